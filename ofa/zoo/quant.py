"""Int8 entries: which precisions an entry exports, and the card's post-training-quantisation figures.

An entry for an int8 device (``runner.precision: int8``, e.g. ``local-ort-cpu-int8``) is searched under
that device's int8 latency table, exported in int8 (ORT QDQ / full-integer TFLite, calibrated on the
zoo dataset's training images) and timed on the device as the int8 file. Its card keeps the measured
fp32 top-1 (the figure the candidates were chosen on) and adds the int8 file's top-1 on the same
held-out split, its top-1 agreement with the fp32 network, and the drop. An int8 file that misses the
export's int8 tolerance (top-1 agreement >= 0.90, drop <= 3 points) is kept, marked ``mismatch``, and the
entry says ``int8_mismatch`` instead of ``ok``; fp32 and fp16 files still fail the entry when they mismatch.
"""

from __future__ import annotations

from ofa.errors import ConfigError


def device_precision(device: str) -> str:
    from devices.catalog import get_device

    return get_device(device).runner.precision


def export_precisions(target) -> list[str]:
    """The precisions an entry of ``target`` exports: the zoo config's list, else fp32 plus the device's own.

    The device's precision must be among them: the entry is timed on the device in that precision."""
    own = device_precision(target.device)
    wanted = list(dict.fromkeys(target.precision or ["fp32", own]))
    if own not in wanted:
        raise ConfigError(f"device {target.device} times {own} models, so its entries need a {own} export; "
                          f"add {own} to the device's precision list in zoo.yaml (it has {wanted})")
    return wanted


def quantised_accuracy(exports: list[dict], precision: str, calibration: dict) -> dict | None:
    """The card's figures for the ``precision`` export of the device's format (None for fp32 devices)."""
    if precision == "fp32":
        return None
    rows = [e for e in exports if e["precision"] == precision and e.get("accuracy_exported") is not None]
    if not rows:
        return {"top1": None, "note": f"no labelled {precision} export to measure (the dataset's classes differ?)"}
    row = rows[0]
    return {"format": row["format"], "status": row["status"], "failures": row.get("failures", []),
            "top1": row["accuracy_exported"], "fp32_top1": row["accuracy_reference"],
            "top1_agreement_with_fp32": row["top1_agreement"], "accuracy_drop": row["accuracy_drop"],
            "images": row["images"], "calibration": calibration,
            "method": "post-training static quantisation (ofa export --precision int8); agreement and drop against "
                      "the fp32 PyTorch network on the same images"}


def strict_exports_passed(report) -> None:
    """Raise the export's error when a non-int8 file mismatches (int8 mismatches are reported on the card)."""
    from ofa.errors import ExportError

    bad = [r for r in report.results if r.status != "passed" and (r.precision != "int8" or not r.file)]
    if bad:
        lines = "; ".join(f"{r.format}/{r.precision}: {f}" for r in bad for f in r.failures)
        raise ExportError(f"{len(bad)} export(s) of the entry failed validation against PyTorch: {lines}")


def entry_status(status: str, reason: str, card: dict) -> tuple[str, str]:
    """``int8_mismatch`` for an entry within budget whose int8 file misses its tolerance; the reason says why."""
    q = card.get("accuracy", {}).get("int8") or {}
    if not q.get("failures"):
        return status, reason
    why = "the int8 file misses its tolerance: " + "; ".join(q["failures"])
    return ("int8_mismatch" if status == "ok" else status), "; ".join(x for x in (reason, why) if x)
