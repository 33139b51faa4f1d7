"""``ofa export``: a thin layer over :func:`export.api.export_model` (heavy imports inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from ofa.cli.common import handle_errors

    app.command("export")(handle_errors(export_cmd))


def export_cmd(
    subnet: Path = typer.Argument(..., help="Extracted sub-network directory, or a supernet directory with --subnet."),
    out_dir: Path = typer.Option(..., "--out", help="Directory for the exported files and export_report.json."),
    formats: str = typer.Option("onnx", "--format", help="Comma-separated formats: onnx, tflite, tensorrt, openvino, executorch, coreml."),
    precision: str = typer.Option("fp32", "--precision", help="Comma-separated precisions: fp32, fp16, int8."),
    subnet_config: Optional[Path] = typer.Option(None, "--subnet", help="Sub-network config JSON (with a supernet directory)."),
    calib_data: str = typer.Option("builtin", "--calib-data", help="Images for int8 calibration and validation: "
                                   "'builtin', 'cifar10' or a dataset path."),
    calib_images: int = typer.Option(200, help="Calibration images (training split)."),
    val_images: int = typer.Option(256, help="Validation images (validation split) compared with PyTorch."),
    nhwc: bool = typer.Option(False, "--nhwc", help="TFLite input channels-last (what phones usually want)."),
    allow_mismatch: bool = typer.Option(False, "--allow-mismatch", help="Write files that fail validation anyway (marked in the report)."),
    opset: int = typer.Option(20, help="ONNX opset."),
    dynamic_batch: bool = typer.Option(False, "--dynamic-batch", help="ONNX with a dynamic batch axis."),
    threads: int = typer.Option(1, help="Runtime threads for validation and latency."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    trt_device: Optional[str] = typer.Option(None, "--trt-device", help="Build TensorRT engines with trtexec on this device "
                                             "(catalog name or YAML; e.g. a Jetson over SSH) instead of locally."),
) -> None:
    """Export a sub-network to ONNX / TFLite / TensorRT / OpenVINO / ExecuTorch / Core ML, each validated against PyTorch on real images."""
    _run(subnet, out_dir, formats, precision, subnet_config, calib_data, calib_images, val_images,
         nhwc, allow_mismatch, opset, dynamic_batch, threads, as_json, trt_device)


def _run(subnet, out_dir, formats, precision, subnet_config, calib_data, calib_images, val_images, nhwc,
         allow_mismatch, opset, dynamic_batch, threads, as_json, trt_device=None) -> None:
    import contextlib

    if trt_device:
        from devices.catalog import get_device
        from devices.transports import make_transport

        spec = get_device(trt_device)
        with contextlib.closing(make_transport(spec.transport, spec.timeout_s).open()) as transport:
            return _export(subnet, out_dir, formats, precision, subnet_config, calib_data, calib_images, val_images,
                           nhwc, allow_mismatch, opset, dynamic_batch, threads, as_json, transport)
    return _export(subnet, out_dir, formats, precision, subnet_config, calib_data, calib_images, val_images, nhwc,
                   allow_mismatch, opset, dynamic_batch, threads, as_json, None)


def _export(subnet, out_dir, formats, precision, subnet_config, calib_data, calib_images, val_images, nhwc,
            allow_mismatch, opset, dynamic_batch, threads, as_json, transport) -> None:
    from export.api import export_model
    from ofa.cli.common import print_json, print_table, progress

    with progress() as bar:
        task = bar.add_task("export", total=None)

        def on_progress(description: str, done: int, total: int) -> None:
            bar.update(task, description=f"export {description}", completed=done, total=total)

        report = export_model(subnet, formats, precision, out_dir, subnet_config=subnet_config, calib_data=calib_data,
                              calib_images=calib_images, val_images=val_images, nhwc=nhwc,
                              allow_mismatch=allow_mismatch, opset=opset, dynamic_batch=dynamic_batch,
                              threads=threads, transport=transport, on_progress=on_progress)
    if as_json:
        print_json(report.to_dict())
        return
    print_table(f"export -> {out_dir}", [_row(r) for r in report.results])


def _row(result) -> dict:
    metrics = result.outputs.get("logits", {})
    engine = result.engine or {}
    return {"format": result.format, "precision": result.precision, "status": result.status,
            "file": Path(result.file).name if result.file else None,
            "size_kb": round(result.size_bytes / 1024, 1) if result.size_bytes else None,
            "max_abs_diff": metrics.get("max_abs_diff"), "top1_agree": metrics.get("top1_agreement"),
            "acc_drop": metrics.get("accuracy_drop"),
            "latency_ms": result.latency["median_ms"] if result.latency else None,
            "engine": engine.get("status"), "runtime_parity": result.runtime_parity}
