"""Exporters (ONNX, TFLite, TensorRT) and their validation against PyTorch.

    from export import export_model
    report = export_model("runs/demo/subnet", formats="onnx,tflite", precision="fp32,int8", out="runs/export")
    report.passed, report.result("tflite", "int8").outputs["logits"]["top1_agreement"]
"""


def export_model(*args, **kwargs):
    """See :func:`export.api.export_model` (imported lazily: torch and runtimes load on first use)."""
    from export.api import export_model as _export_model

    return _export_model(*args, **kwargs)


__all__ = ["export_model"]
