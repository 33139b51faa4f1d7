"""Int8 entries: which precisions an entry exports, and the card's post-training-quantisation figures.

An entry for an int8 device (``runner.precision: int8``, e.g. ``local-ort-cpu-int8``) is searched under
that device's int8 latency table, exported in int8 (ORT QDQ / full-integer TFLite, calibrated on the
zoo dataset's training images) and timed on the device as the int8 file. Its card keeps the measured
fp32 top-1 (the figure the candidates were chosen on) and adds the int8 file's top-1 on the same
held-out split, its top-1 agreement with the fp32 network, and the drop. An int8 file that misses the
export's int8 tolerance (top-1 agreement >= 0.90, drop <= 3 points) is kept, marked ``mismatch``, and the
entry says ``int8_mismatch`` instead of ``ok``; fp32 and fp16 files still fail the entry when they mismatch.

The zoo's own promise is tighter: ``int8_max_drop`` (1 point by default). When the best measured candidate's
int8 file drops more, the next candidates (by measured fp32 top-1) are built in turn, up to ``int8_tries``
entries, and the best int8 top-1 within the drop is kept (:func:`keep_int8_within_drop`); an entry still
over it says ``int8_mismatch``. Post-training quantisation costs some networks more than others (on the
digits, full-integer TFLite cost the demo's networks 0.3 to 1.7 points), so a near-equal candidate is often
the better int8 network.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterable

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


def int8_drop(card: dict) -> float | None:
    """The card's int8 top-1 drop from fp32 (a share), or None when it has no measured int8 file."""
    q = card.get("accuracy", {}).get("int8") or {}
    return q.get("accuracy_drop")


def keep_int8_within_drop(card: dict, tmp: Path, alternatives: Iterable[Callable[[Path], dict]], max_drop: float,
                          tries: int) -> dict:
    """The int8 entry to keep: ``card`` (built in ``tmp``) unless its int8 drop exceeds ``max_drop``; then the next
    candidates are built in turn (``alternatives``, best measured fp32 top-1 first; each builds into the folder it
    is given) until one keeps the drop within ``max_drop`` or ``tries`` entries were built. Kept: the best int8
    top-1 among those within the drop, else the best int8 top-1 of all (ties: the better fp32). The kept entry's
    files end up in ``tmp``; the card lists every try."""
    def figures(c: dict) -> dict:
        acc = c["accuracy"]
        return {"arch": c["arch"], "top1": acc["top1"], "top1_int8": (acc.get("int8") or {}).get("top1"),
                "int8_drop": int8_drop(c)}

    def rank(c: dict) -> tuple:
        drop, q = int8_drop(c), figures(c)["top1_int8"]
        return (drop is not None and drop <= max_drop, -1.0 if q is None else q, c["accuracy"]["top1"])

    built, best, best_dir = [figures(card)], card, tmp
    for n, build in enumerate(alternatives, start=1):
        if len(built) >= tries or (int8_drop(best) is not None and int8_drop(best) <= max_drop):
            break
        folder = tmp.parent / f"{tmp.name}-int8-try{n}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        other = build(folder)
        built.append(figures(other))
        if rank(other) > rank(best):
            if best_dir != tmp:
                shutil.rmtree(best_dir, ignore_errors=True)
            best, best_dir = other, folder
        else:
            shutil.rmtree(folder, ignore_errors=True)
    if best_dir != tmp:
        shutil.rmtree(tmp)
        os.replace(best_dir, tmp)
    best["accuracy"]["int8_tries"] = {"max_drop": max_drop, "tries": built,
                                      "rule": "candidates built best measured fp32 first until one's int8 drop is "
                                              "within max_drop; kept: the best int8 top-1 within it, else of all"}
    return best


def entry_status(status: str, reason: str, card: dict, max_drop: float | None = None) -> tuple[str, str]:
    """``int8_mismatch`` for an entry within budget whose int8 file misses its tolerance, or whose int8 top-1 drop
    exceeds the zoo's ``int8_max_drop``; the reason says why."""
    q = card.get("accuracy", {}).get("int8") or {}
    failures = list(q.get("failures") or [])
    drop = q.get("accuracy_drop")
    if max_drop is not None and drop is not None and drop > max_drop:
        failures.append(f"top-1 drop {100 * drop:.2f} points > int8_max_drop {100 * max_drop:g}")
    if not failures:
        return status, reason
    why = "the int8 file misses its tolerance: " + "; ".join(failures)
    return ("int8_mismatch" if status == "ok" else status), "; ".join(x for x in (reason, why) if x)
