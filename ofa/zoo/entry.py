"""One zoo entry: extract -> BN recalibration -> measured accuracy -> export + parity -> on-device latency -> card."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pandas as pd
import torch

from ofa import __version__
from ofa.zoo.card import CARD_JSON, write_card

log = logging.getLogger(__name__)


def entry_name(space_id: str, device: str, budget_ms: float) -> str:
    return f"{space_id}.{device}-{budget_ms:g}ms"


def build_entry(config, out: Path, supernet, supernet_dir: Path, evaluator, state, row: dict, status) -> dict:
    from ofa.zoo.pipeline import _safe, file_hash, inputs_hash

    target = state.target
    name = _safe(entry_name(supernet.space.id, target.device, row["latency_budget_ms"]))
    base = {"name": name, "device": target.device, "budget_ms": row["latency_budget_ms"]}
    if not row.get("feasible", True):
        return base | {"status": "infeasible", "reason": row.get("reason", ""),
                       "card": {"latency_ms": {"predicted_mean": row.get("min_latency_ms")}}}
    key = inputs_hash(file_hash(supernet_dir / "weights.safetensors"), row["subnet"], target.model_dump(),
                      config.bn_calib_images, config.data, __version__)
    final = out / name
    card_path = final / CARD_JSON
    if card_path.is_file():
        import json

        card = json.loads(card_path.read_text())
        if card.get("inputs_hash") == key:
            return base | {"status": "ok", "card": card}
    status(f"building {name}")
    tmp = out / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    card = _build(config, tmp, supernet, supernet_dir, evaluator, state, row) | {"name": name, "inputs_hash": key}
    write_card(tmp, card)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return base | {"status": "ok", "card": card}


def _build(config, tmp: Path, supernet, supernet_dir: Path, evaluator, state, row: dict) -> dict:
    from export.api import export_model

    from ofa.artifacts import ModelInfo, save_subnet
    from ofa.subnet import SubnetConfig

    target, device = state.target, state.target.device
    cfg = SubnetConfig.from_dict(row["subnet"], supernet.space)
    net = evaluator.prepare(cfg)
    accuracy = evaluator.accuracy(net, cfg.r)
    base_info = supernet.info
    info = ModelInfo(num_classes=base_info.num_classes, mean=base_info.mean, std=base_info.std, labels=base_info.labels,
                     config={"command": "zoo", "device": device, "budget_ms": row["latency_budget_ms"],
                             "bn_calib_images": config.bn_calib_images},
                     inputs={"supernet": {"path": str(supernet_dir)}})
    save_subnet(net, tmp / "subnet", info)
    layout = _device_layout(device)
    report = export_model(tmp / "subnet", formats=target.formats, precision=target.precision, out=tmp / "export",
                          calib_data=config.data, nhwc=layout == "nhwc", latency_repeats=config.export_latency_repeats)
    exports = [_export_row(r, tmp) for r in report.results]
    measured = _measure_on_device(device, exports, cfg, tmp, state.lut_dir)
    pred = row["latency_ms"][device]
    return {
        "schema_version": 1, "tool_version": __version__, "space": supernet.space.id, "device": device,
        "budget_ms": row["latency_budget_ms"], "subnet": cfg.to_dict(), "arch": row["arch"],
        "accuracy": {"top1": accuracy["top1"], "loss": accuracy["loss"], "split": "val", "images": accuracy["val_images"],
                     "predicted_top1": row["predicted_top1"]},
        "latency_ms": {"predicted_mean": pred["mean"], "predicted_std": pred["std"], **measured},
        "mflops": row["mflops"], "params_m": row["params_m"], "exports": exports,
        "input": {"shape": list(_shape(cfg.r, layout)), "layout": layout.upper(), "mean": list(info.mean),
                  "std": list(info.std), "range": "RGB in [0, 1], then (x - mean) / std"},
        "labels": info.labels, "versions": _versions(),
    }


def _device_layout(device: str) -> str:
    from devices.session import DeviceSession

    return DeviceSession(device).layout


def _shape(r: int, layout: str) -> tuple[int, ...]:
    return (1, r, r, 3) if layout == "nhwc" else (1, 3, r, r)


def _export_row(result, tmp: Path) -> dict:
    metrics = result.outputs.get("logits", {})
    return {"format": result.format, "precision": result.precision, "status": result.status,
            "file": str(Path(result.file).relative_to(tmp)) if result.file else None, "bytes": result.size_bytes,
            "max_abs_diff": metrics.get("max_abs_diff"), "top1_agreement": metrics.get("top1_agreement"),
            "accuracy_drop": metrics.get("accuracy_drop"),
            "latency_here_ms": (result.latency or {}).get("median_ms")}


def _measure_on_device(device: str, exports: list[dict], cfg, tmp: Path, lut_dir: Path) -> dict:
    """Latency of the exported file in the device's own format, measured by the device's runner.

    ``measured`` is in the statistic the prediction uses (the table's ``stat``, drift-compensated with
    the table's own anchor when it has one), so it compares like with like; the median is kept too.
    """
    from devices.runners import MeasureJob
    from devices.session import DeviceSession
    from latency.anchor import anchor_job, table_anchor
    from latency.micro import ModelCache
    from latency.profile import tflite_input_name
    from latency.stats import summarize
    from latency.table import LatencyTable
    from ofa.spaces import get_space

    table = LatencyTable.load(lut_dir)
    space = get_space(table.space_id)
    with DeviceSession(device) as session:
        fmt = session.model_format
        candidates = [e for e in exports if e["format"] == fmt and e["file"] and e["status"] != "failed"]
        if not candidates:
            return {"measured_median": None, "measured_note": f"no {fmt} export for {device}; add it to the device's formats"}
        export = candidates[0]
        path = tmp / export["file"]
        shape = _shape(cfg.r, session.layout)
        job = MeasureJob("entry", path, shape, tflite_input_name(path) if fmt == "tflite" else None)
        anchor = anchor_job(table_anchor(table, space), space, ModelCache(lut_dir / "models", fmt), session)
        stats = summarize(next(iter(session.measure([job], anchor))))
        fingerprint = session.fingerprint()
    measured = float(table.column(pd.DataFrame([stats]))[0])
    return {"measured": measured, "measured_stat": table.stat, "measured_median": stats["median_ms"],
            "measured_mean": stats["mean_ms"], "measured_std": stats["std_ms"], "measured_min": stats["min_ms"],
            "measured_count": stats["count"], "measured_format": f"{export['format']}:{export['precision']}",
            "device_fingerprint": fingerprint}


def _versions() -> dict:
    from ofa.cli.env import environment

    env = environment()
    return {k: env[k] for k in ("ofa-deploy", "torch", "onnx", "onnxruntime", "litert (ai-edge-litert)", "litert-torch")}
