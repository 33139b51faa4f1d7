"""What every export format shares: the :class:`Exporter` protocol, the format registry, the
precision check, and the fp32 / fp16 / int8 ONNX steps the ONNX-based formats (onnx, tensorrt) build on.

The formats themselves live in :mod:`export.formats` (onnx, tflite) and :mod:`export.tensorrt_format`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from export.context import ExportContext, Exported
from ofa.errors import ConfigError
from ofa.registry import Registry


class Exporter(Protocol):
    name: str
    precisions: tuple[str, ...]

    def export(self, ctx: ExportContext, precision: str) -> Exported: ...


EXPORTERS: Registry[Exporter] = Registry("export format")


def register_exporter(exporter: Exporter) -> Exporter:
    return EXPORTERS.register(exporter.name, exporter)


def get_exporter(name: str) -> Exporter:
    return EXPORTERS.get(name)


def check_precision(exporter: Exporter, precision: str) -> None:
    if precision not in exporter.precisions:
        raise ConfigError(f"format {exporter.name} has no precision {precision!r}; it supports "
                          f"{', '.join(exporter.precisions)} (--precision)")


def onnx_fp32(ctx: ExportContext) -> Path:
    """The fp32 ONNX of the context's model (written once, shared by every ONNX-based format)."""
    from export.metadata import to_onnx_props
    from export.onnx_export import export_onnx

    def make() -> Path:
        return export_onnx(ctx.model, ctx.example, ctx.work_dir / "model_fp32.onnx", opset=ctx.opset,
                           dynamic_batch=ctx.dynamic_batch, metadata=to_onnx_props(ctx.metadata("fp32")))

    return ctx.cached("onnx_fp32", make)


def onnx_in_precision(ctx: ExportContext, precision: str, path: Path) -> Path:
    """Write the ONNX of ``precision`` to ``path`` (fp32 copy, fp16 weights, or int8 QDQ)."""
    import shutil

    import onnx

    import export.onnx_quant as onnx_quant
    from export.metadata import set_onnx_metadata

    src = onnx_fp32(ctx)
    if precision == "fp32":
        shutil.copyfile(src, path)
    elif precision == "fp16":
        onnx_quant.fp16_weights(src, path)
    else:
        onnx_quant.int8_qdq(src, path, iter(ctx.calibration))
    proto = onnx.load(str(path))
    set_onnx_metadata(proto, ctx.metadata(precision))
    onnx.save(proto, str(path))
    return path
