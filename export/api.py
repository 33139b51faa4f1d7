"""The Python API behind ``ofa export``: export a sub-network to several formats and precisions,
validate every file in its runtime against PyTorch on real images, and write ``export_report.json``.

    from export.api import export_model
    report = export_model("runs/demo/subnet", formats="onnx,tflite", precision="fp32,int8", out="runs/export")
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from export.context import ExportContext, Exported
from export.report import ExportReport, FormatResult, artifact_size_and_sha256
from export.validate import compare, judge, tolerance_for
from ofa.errors import ConfigError, ExportError
from ofa.io import atomic_write_json

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]  # (description, step done, total steps)
ONNX_BASED = ("onnx", "tensorrt")  # formats written through ONNX, so --opset applies


def export_model(subnet: "str | Path | nn.Module", formats: "str | Sequence[str]" = "onnx",
                 precision: "str | Sequence[str]" = "fp32", out: "str | Path" = "export", *,
                 subnet_config: "str | Path | dict | None" = None, calib_data: str = "builtin",
                 calib_images: int = 200, val_images: int = 256, nhwc: bool = False, allow_mismatch: bool = False,
                 opset: int = 20, dynamic_batch: bool = False, threads: int = 1, latency_repeats: int = 30,
                 transport=None, remote_dir: str | None = None, seed: int = 0,
                 on_progress: Progress | None = None) -> ExportReport:
    """Export ``subnet`` (sub-network dir, supernet dir + ``subnet_config``, or a static module).

    Every file is validated; failures are collected over all formats and raised together as one
    :class:`ExportError` after the report is written, unless ``allow_mismatch`` keeps the files.
    """
    from export.formats import check_precision, get_exporter
    from export.images import load_images

    plan = [(get_exporter(f), p) for f in _names(formats, "format") for p in _names(precision, "precision")]
    for exporter, prec in plan:
        tolerance_for(prec)
        check_precision(exporter, prec)
    if any(exporter.name in ONNX_BASED for exporter, _ in plan):
        from export.onnx_export import check_opset

        check_opset(opset)  # before minutes of work, not after
    model = _load_model(subnet, subnet_config)
    info = model.info
    images = load_images(calib_data, model.config.r, info.mean, info.std, info.num_classes, calib_images, val_images, seed)
    reference = _torch_logits(model, images.validation, threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = ExportReport(out_dir=str(out), model=_model_summary(model, subnet),
                          images=images.source, settings=_settings(locals()),
                          reference_latency=_torch_latency(model, images.validation[:1], threads, latency_repeats))
    with tempfile.TemporaryDirectory(dir=out, prefix=".staging-") as staging, \
            tempfile.TemporaryDirectory(dir=out, prefix=".work-") as work:
        ctx = ExportContext(model, images.calibration, Path(staging), Path(work), images.validation, nhwc=nhwc,
                            opset=opset, dynamic_batch=dynamic_batch, threads=threads, transport=transport,
                            remote_dir=remote_dir)
        for step, (exporter, prec) in enumerate(plan):
            if on_progress:
                on_progress(f"{exporter.name} {prec}", step, len(plan))
            result = _export_one(ctx, exporter, prec, reference, images.labels, allow_mismatch, latency_repeats)
            _publish(result, Path(staging), out)
            report.results.append(result)
        if on_progress:
            on_progress("done", len(plan), len(plan))
    atomic_write_json(out / "metadata.json", ctx.metadata("fp32", "NHWC" if nhwc else "NCHW"))
    path = report.write()
    _raise_on_failures(report, path)
    return report


def _export_one(ctx: ExportContext, exporter, precision: str, reference: np.ndarray, labels, allow_mismatch: bool,
                repeats: int) -> FormatResult:
    from export.runtimes import measure_latency, run_batch

    start = time.perf_counter()
    result = FormatResult(format=exporter.name, precision=precision, status="failed")
    try:
        exported: Exported = exporter.export(ctx, precision)
        result.file, result.runtime, result.notes = str(exported.path), exported.runtime, exported.notes
        result.checks, result.engine = exported.checks, exported.engine
        tol = tolerance_for(exported.tolerance)
        result.tolerance = {"precision": exported.tolerance, **tol.to_dict()}
        if exported.runner is None:  # structural checks passed in export(); runtime parity named as unverified
            result.runtime_parity = f"unverified ({exported.unverified or 'no runtime for this format here'})"
            raise _Unverified
        runner = exported.runner()
        metrics = compare(reference, run_batch(runner, ctx.validation), labels)
        result.outputs = {"logits": metrics}
        result.failures = judge("logits", metrics, tol)
        result.latency = {**measure_latency(runner, ctx.validation[:1], repeats=repeats), "threads": ctx.threads,
                          "runtime": exported.runtime}
        result.runtime_parity = "verified"
    except _Unverified:
        pass
    except ExportError as exc:
        result.failures = [str(exc)]
    result.status = "passed" if not result.failures else ("mismatch" if allow_mismatch and result.file else "failed")
    result.seconds = round(time.perf_counter() - start, 2)
    log.info("%s/%s: %s%s", exporter.name, precision, result.status,
             "" if not result.failures else " (" + "; ".join(result.failures) + ")")
    return result


class _Unverified(Exception):
    """Leaves validation early for a file no runtime here can run (its report says so)."""


def _publish(result: FormatResult, staging: Path, out: Path) -> None:
    """Move the result's files from staging to ``out`` (or delete them and any stale copy when failed)."""
    for file in sorted(staging.iterdir()):
        target = out / file.name
        if result.status == "failed":
            _remove(file)
            _remove(target)
            continue
        if target.is_dir():  # a directory artifact (.mlpackage) from an earlier run: replaced whole
            shutil.rmtree(target)
        os.replace(file, target)
    if result.file:
        target = out / Path(result.file).name
        result.file = str(target) if target.exists() else None
        if result.file:
            result.size_bytes, result.sha256 = artifact_size_and_sha256(target)
    if result.engine and result.engine.get("engine_path"):
        result.engine["engine_path"] = str(out / Path(result.engine["engine_path"]).name)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _raise_on_failures(report: ExportReport, path: Path) -> None:
    failed = [r for r in report.results if r.status == "failed"]
    if not failed:
        return
    lines = "\n".join(f"  - {line}" for line in report.failures)
    raise ExportError(f"{len(failed)} of {len(report.results)} exports failed validation against PyTorch "
                      f"(their files were not written; details in {path}):\n{lines}\n"
                      "Fix the cause, or pass --allow-mismatch to write them anyway (marked 'mismatch' in the report).")


# ----- inputs -------------------------------------------------------------------------------------
def _names(value: "str | Sequence[str]", what: str) -> list[str]:
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    if not items:
        raise ConfigError(f"no {what} given; pass at least one (--{what})")
    return list(dict.fromkeys(items))


def _load_model(subnet, subnet_config) -> nn.Module:
    from ofa.artifacts import ModelInfo, load_subnet

    model = subnet if isinstance(subnet, nn.Module) else load_subnet(subnet, subnet_config)
    if getattr(model, "config", None) is None:
        raise ConfigError("export needs a static sub-network (with .config); load one with ofa.load_subnet")
    if getattr(model, "info", None) is None:
        model.info = ModelInfo(num_classes=model.num_classes)
    return model.eval()


@contextlib.contextmanager
def _torch_threads(threads: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@torch.no_grad()
def _torch_logits(model: nn.Module, images: np.ndarray, threads: int, batch: int = 64) -> np.ndarray:
    with _torch_threads(threads):
        return np.concatenate([model(torch.from_numpy(images[i : i + batch])).numpy()
                               for i in range(0, len(images), batch)])


@torch.no_grad()
def _torch_latency(model: nn.Module, image: np.ndarray, threads: int, repeats: int) -> dict:
    from export.runtimes import measure_latency

    with _torch_threads(threads):
        stats = measure_latency(lambda x: model(torch.from_numpy(x)).numpy(), image, repeats=repeats)
    return {**stats, "threads": threads, "runtime": f"pytorch {torch.__version__} (eager, CPU)"}


def _model_summary(model: nn.Module, subnet) -> dict:
    from export.metadata import model_metadata

    summary = model_metadata(model)
    summary.pop("precision")
    summary["source"] = None if isinstance(subnet, nn.Module) else str(subnet)
    summary["parameters"] = int(sum(p.numel() for p in model.parameters()))
    return summary


def _settings(args: dict) -> dict:
    keys = ("formats", "precision", "calib_data", "calib_images", "val_images", "nhwc", "allow_mismatch", "opset",
            "dynamic_batch", "threads", "latency_repeats", "remote_dir", "seed", "subnet_config")
    return {k: (str(args[k]) if isinstance(args[k], Path) else args[k]) for k in keys}
