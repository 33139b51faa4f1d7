"""PyTorch -> ONNX through ``torch.onnx.export(..., dynamo=True)``, checked with ``onnx.checker``."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from ofa.errors import ExportError
from ofa.io import atomic_write

log = logging.getLogger(__name__)
DEFAULT_OPSET = 20


def export_onnx(model: nn.Module, example: torch.Tensor, path: "str | Path", opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = False, metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` (eval mode) as ONNX to ``path``; input ``input`` (NCHW), output ``logits``."""
    import onnx

    model = model.eval()
    dynamic_shapes = ({"x": {0: torch.export.Dim("batch", min=1, max=4096)}},) if dynamic_batch else None
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(model, (example,), dynamo=True, opset_version=opset, input_names=["input"],
                                        output_names=["logits"], dynamic_shapes=dynamic_shapes, verbose=False,
                                        optimize=True)
        except Exception as exc:
            raise ExportError(f"torch.onnx.export failed: {str(exc).splitlines()[0]}") from exc
    proto = program.model_proto
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(f"exported ONNX model fails onnx.checker: {exc}") from exc
    atomic_write(path, lambda tmp: onnx.save(proto, str(tmp)))
    log.info("wrote %s (opset %d)", path, opset)
    return Path(path)
