"""PyTorch -> TFLite through litert-torch (no TensorFlow needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from ofa.errors import ExportError
from ofa.io import atomic_write_bytes

log = logging.getLogger(__name__)


def require_litert_torch():
    try:
        import litert_torch
    except ImportError:
        raise ExportError("TFLite export needs litert-torch: pip install 'ofa-deploy[tflite]'") from None
    return litert_torch


def export_tflite(model: nn.Module, example: torch.Tensor, path: "str | Path", nhwc: bool = False) -> Path:
    """Write ``model`` (eval mode, fp32) as a .tflite flatbuffer; ``nhwc`` makes the input channels-last."""
    litert_torch = require_litert_torch()
    model = model.eval()
    if nhwc:
        model = litert_torch.to_channel_last_io(model, args=[0])
        example = example.permute(0, 2, 3, 1).contiguous()
    try:
        edge = litert_torch.convert(model, (example,))
    except Exception as exc:
        raise ExportError(f"litert-torch conversion failed: {str(exc).splitlines()[0]}") from exc
    atomic_write_bytes(path, edge.model_content())
    log.info("wrote %s", path)
    return Path(path)
