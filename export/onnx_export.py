"""PyTorch -> ONNX through ``torch.onnx.export(..., dynamo=True)``, checked with ``onnx.checker``."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from ofa.errors import ConfigError, ExportError
from ofa.io import atomic_write

log = logging.getLogger(__name__)
DEFAULT_OPSET = 20
#: torch's dynamo exporter builds opset 18 graphs; for a lower opset it tries onnx's version converter and,
#: when that fails (it does for these networks), silently writes 18 instead. Lower opsets are refused.
MIN_OPSET = 18


def supported_opsets() -> tuple[int, int]:
    """The inclusive range of ONNX opsets this exporter writes here (the upper end: the installed ``onnx``)."""
    import onnx

    return MIN_OPSET, int(onnx.defs.onnx_opset_version())


def check_opset(opset: int) -> None:
    """Refuse an opset outside :func:`supported_opsets`, saying the range."""
    low, high = supported_opsets()
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= high:
        raise ConfigError(f"ONNX opset {opset!r} is not supported: the exporter (torch.onnx, dynamo) writes "
                          f"opsets {low}..{high} with the installed onnx; pass --opset in that range "
                          f"(default {DEFAULT_OPSET})")


def written_opset(proto) -> int | None:
    """The default-domain opset an ONNX model declares."""
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def export_onnx(model: nn.Module, example: torch.Tensor, path: "str | Path", opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = False, metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` (eval mode) as ONNX to ``path``; input ``input`` (NCHW), output ``logits``."""
    import onnx

    check_opset(opset)
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
    if written_opset(proto) != opset:
        raise ExportError(f"asked torch.onnx for opset {opset} but it wrote opset {written_opset(proto)}; "
                          f"pass --opset {written_opset(proto)} (or another the exporter honours)")
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
