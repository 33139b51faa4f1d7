"""The export formats, one small exporter each, in a registry (tests parametrize over it).

An exporter has a ``name``, the ``precisions`` it writes, and ``export(ctx, precision)`` which writes
its file into ``ctx.out_dir`` and returns an :class:`~export.context.Exported`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from ofa.errors import ConfigError
from ofa.registry import Registry

from export.context import ExportContext, Exported


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
    from export.onnx_export import export_onnx
    from export.metadata import to_onnx_props

    def make() -> Path:
        return export_onnx(ctx.model, ctx.example, ctx.work_dir / "model_fp32.onnx", opset=ctx.opset,
                           dynamic_batch=ctx.dynamic_batch, metadata=to_onnx_props(ctx.metadata("fp32")))

    return ctx.cached("onnx_fp32", make)


def onnx_in_precision(ctx: ExportContext, precision: str, path: Path) -> Path:
    """Write the ONNX of ``precision`` to ``path`` (fp32 copy, fp16 weights, or int8 QDQ)."""
    import shutil

    import onnx

    from export import onnx_quant
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


class OnnxExporter:
    name = "onnx"
    precisions = ("fp32", "fp16", "int8")

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        from export.runtimes import OnnxRuntimeRunner

        import onnx

        from export.onnx_export import written_opset

        check_precision(self, precision)
        path = onnx_in_precision(ctx, precision, ctx.out_dir / f"model_{precision}.onnx")
        notes = ["fp16 weights, cast to fp32 at load: onnxruntime CPU computes in fp32"] if precision == "fp16" else []
        checks = {"opset": written_opset(onnx.load(str(path), load_external_data=False))}  # what the file declares
        return Exported(path, lambda: OnnxRuntimeRunner(path, ctx.threads), "onnxruntime", precision, checks=checks,
                        notes=notes)


class TFLiteExporter:
    name = "tflite"
    precisions = ("fp32", "fp16", "int8")

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        from export import tflite_export
        from export.metadata import embed_tflite_metadata
        from export.runtimes import LiteRTRunner
        from ofa.io import atomic_write_bytes

        check_precision(self, precision)
        fp32 = ctx.cached(f"tflite_fp32_nhwc{ctx.nhwc}", lambda: tflite_export.convert_fp32(ctx.model, ctx.example, ctx.nhwc))
        content = tflite_export.quantize_tflite(fp32, precision, iter(ctx.calibration), ctx.nhwc)
        layout = "NHWC" if ctx.nhwc else "NCHW"
        path = ctx.out_dir / f"model_{precision}{'_nhwc' if ctx.nhwc else ''}.tflite"
        atomic_write_bytes(path, embed_tflite_metadata(content, ctx.metadata(precision, layout)))
        notes = {"fp16": ["fp16 weights (conv/linear), dequantised at load; fp32 compute"],
                 "int8": ["full-integer: int8 weights, activations, input and output tensors"]}.get(precision, [])
        return Exported(path, lambda: LiteRTRunner(path, ctx.threads, ctx.nhwc), "litert", precision, notes=notes)


register_exporter(OnnxExporter())
register_exporter(TFLiteExporter())

from export import tensorrt_format  # noqa: E402,F401  (registers "tensorrt")
