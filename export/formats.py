"""The export formats, one small exporter each, in a registry (tests parametrize over it).

An exporter has a ``name``, the ``precisions`` it writes, and ``export(ctx, precision)`` which writes
its file into ``ctx.out_dir`` and returns an :class:`~export.context.Exported` (protocol and registry:
:mod:`export.exporter`). Importing this module registers every format.
"""

from __future__ import annotations

from export.context import ExportContext, Exported
from export.exporter import (  # noqa: F401  (re-exported: the registry's public names)
    EXPORTERS,
    Exporter,
    check_precision,
    get_exporter,
    onnx_fp32,
    onnx_in_precision,
    register_exporter,
)


class OnnxExporter:
    name = "onnx"
    precisions = ("fp32", "fp16", "int8")

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        import onnx

        from export.onnx_export import written_opset
        from export.runtimes import OnnxRuntimeRunner

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
        import export.tflite_export as tflite_export
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

import export.coreml_format  # noqa: E402,F401  (registers "coreml"; coremltools is an optional extra)
import export.executorch_format  # noqa: E402,F401  (registers "executorch"; the runtime is an optional extra)
import export.openvino_format  # noqa: E402,F401  (registers "openvino"; the runtime is an optional extra)
import export.tensorrt_format  # noqa: E402,F401  (registers "tensorrt")
