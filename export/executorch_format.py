"""The ``executorch`` format: a ``.pte`` program lowered to the XNNPACK delegate, validated in the ExecuTorch runtime.

* fp32: ``torch.export`` -> ``to_edge_transform_and_lower(XnnpackPartitioner)`` -> ``to_executorch``.
* int8: ExecuTorch's own PT2E flow: ``XNNPACKQuantizer`` (symmetric, per-channel weights, static int8
  activations) with ``prepare_pt2e`` / calibration on real images / ``convert_pt2e``, then the same lowering.
* fp16 is not offered: XNNPACK's fp16 path needs an fp16 model and input, not a weight-storage option.

Metadata travels inside the program as a constant method ``ofa_metadata`` returning the UTF-8 JSON as
a uint8 tensor (``read_executorch_metadata`` runs it). The runner uses the ``executorch.runtime``
pybindings, which include the XNNPACK delegate on Linux x86_64 and macOS.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from export.context import ExportContext, Exported
from export.exporter import check_precision, register_exporter
from ofa.errors import ArtifactError, ExportError
from ofa.optional import require

METADATA_METHOD = "ofa_metadata"


def _require():
    require("executorch", "the executorch format", "executorch")


def lower_to_pte(model: nn.Module, example: torch.Tensor, precision: str, calibration: np.ndarray | None,
                 metadata: dict | None = None) -> bytes:
    """The ``.pte`` bytes of ``model`` in ``precision`` (fp32 or int8), XNNPACK-delegated."""
    _require()
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from ofa.quiet import quiet

    model = model.eval()
    with torch.no_grad():
        if precision == "int8":
            model = _pt2e_int8(model, example, calibration)
        program = torch.export.export(model, (example,))
        constants = {}
        if metadata is not None:
            constants[METADATA_METHOD] = torch.frombuffer(bytearray(json.dumps(metadata).encode()), dtype=torch.uint8)
        lowered = quiet(lambda: to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()],
                                                            constant_methods=constants or None).to_executorch())
    return bytes(lowered.buffer)


def _pt2e_int8(model: nn.Module, example: torch.Tensor, calibration: np.ndarray) -> nn.Module:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(torch.export.export(model, (example,)).module(), quantizer)
    for i in range(len(calibration)):
        prepared(torch.from_numpy(calibration[i : i + 1].copy()))
    return convert_pt2e(prepared)


def _program(path: "str | Path"):
    _require()
    from executorch.runtime import Runtime

    try:
        return Runtime.get().load_program(str(path))
    except Exception as exc:
        raise ExportError(f"ExecuTorch cannot load {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc


class ExecuTorchRunner:
    """The ExecuTorch runtime's ``forward`` of a ``.pte`` (XNNPACK threadpool set to ``threads``)."""

    runtime = "executorch"

    def __init__(self, path: "str | Path", threads: int = 1):
        program = _program(path)
        from executorch.extension.pybindings import portable_lib

        portable_lib._unsafe_reset_threadpool(threads)
        self.method = program.load_method("forward")

    def __call__(self, image_nchw: np.ndarray) -> np.ndarray:
        out = self.method.execute([torch.from_numpy(np.ascontiguousarray(image_nchw, dtype=np.float32))])[0]
        return out.detach().numpy().astype(np.float32)


def read_executorch_metadata(path: "str | Path") -> dict:
    program = _program(path)
    if METADATA_METHOD not in program.method_names:
        raise ArtifactError(f"{path} carries no '{METADATA_METHOD}' method; was it exported by `ofa export`?")
    return json.loads(program.load_method(METADATA_METHOD).execute([])[0].numpy().tobytes())


def delegated_share(pte: bytes) -> dict:
    """Whether XNNPACK took the graph: the program names the delegate in its flatbuffer."""
    return {"xnnpack_delegate": b"XnnpackBackend" in pte}


class ExecuTorchExporter:
    name = "executorch"
    precisions = ("fp32", "int8")

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        from ofa.io import atomic_write_bytes

        check_precision(self, precision)
        try:
            pte = lower_to_pte(ctx.model, ctx.example, precision, ctx.calibration, ctx.metadata(precision))
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(f"ExecuTorch lowering failed: {str(exc).splitlines()[0]}") from exc
        checks = delegated_share(pte)
        if not checks["xnnpack_delegate"]:
            raise ExportError("the .pte has no XNNPACK delegate: the partitioner took none of the graph")
        path = atomic_write_bytes(ctx.out_dir / f"model_{precision}.pte", pte)
        notes = {"int8": ["PT2E XNNPACKQuantizer: per-channel symmetric int8 weights, static int8 activations"]}
        return Exported(path, lambda: ExecuTorchRunner(path, ctx.threads), "executorch (XNNPACK)", precision,
                        checks=checks, notes=notes.get(precision, []))


register_exporter(ExecuTorchExporter())
