"""The ``tensorrt`` format: a TensorRT-ready ONNX (always), its readiness check, and an engine
built locally (TensorRT + CUDA), remotely with trtexec (a device transport), or skipped with the reason.

Without an engine, the ONNX graph TensorRT would compile is validated in onnxruntime: the fp32 graph
for fp32/fp16 engines (fp16 is a builder flag), the int8 QDQ graph for int8 engines.
"""

from __future__ import annotations

from export.context import ExportContext, Exported
from export.exporter import check_precision, onnx_in_precision, register_exporter


class TensorRTExporter:
    name = "tensorrt"
    precisions = ("fp32", "fp16", "int8")

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        from export.runtimes import OnnxRuntimeRunner
        from export.trt_check import check_tensorrt_ready

        check_precision(self, precision)
        graph_precision = "int8" if precision == "int8" else "fp32"
        path = onnx_in_precision(ctx, graph_precision, ctx.out_dir / f"model_tensorrt_{precision}.onnx")
        readiness = check_tensorrt_ready(path)
        engine = self._engine(ctx, path, precision, readiness)
        if engine.get("status") == "built" and engine.get("engine_path"):
            from export.tensorrt_export import TensorRTRunner

            return Exported(path, lambda: TensorRTRunner(engine["engine_path"]), "tensorrt", precision,
                            checks={"opset": readiness["opset"], "tensorrt_readiness": readiness}, engine=engine)
        return Exported(path, lambda: OnnxRuntimeRunner(path, ctx.threads), "onnxruntime (TensorRT-ready ONNX)",
                        graph_precision, checks={"opset": readiness["opset"], "tensorrt_readiness": readiness},
                        engine=engine,
                        notes=[f"engine not validated here: {engine.get('reason', engine.get('status'))}"])

    def _engine(self, ctx: ExportContext, path, precision: str, readiness: dict) -> dict:
        import export.tensorrt_export as trt_export

        if not readiness["ok"]:
            return {"status": "skipped", "reason": "the ONNX failed the readiness check: " + "; ".join(readiness["problems"])}
        if ctx.transport is not None:
            result = trt_export.build_engine_remote(ctx.transport, path, precision, ctx.remote_dir)
            return {"status": "built", "where": "device (trtexec)", **result}
        reason = trt_export.tensorrt_unavailable_reason()
        if reason is not None:
            return {"status": "skipped", "reason": reason}
        engine_path = ctx.out_dir / f"model_{precision}.engine"
        trt_export.build_engine_local(path, engine_path, precision, iter(ctx.calibration))
        return {"status": "built", "where": "local (TensorRT Python API)", "engine_path": str(engine_path)}


register_exporter(TensorRTExporter())
