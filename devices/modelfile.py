"""A PyTorch module written as a file in a runner's model format, and the input shape the runner feeds.

Used by ``ofa device check`` (a tiny model proves the whole path) and by the latency tables'
micro-models (:mod:`latency.micro`). Formats: ``onnx`` (TorchScript exporter, opset 17), ``tflite``
(litert-torch, channels-last 4-D input/output), ``pt2`` (``torch.export``), ``pte`` (ExecuTorch
program lowered to the XNNPACK delegate, fp32) and ``mlpackage.zip`` (a Core ML fp32 ML Program
package zipped into one file, so every transport can push it; the bench script unzips it on the Mac). torch is imported here;
the rest of ``devices`` stays light, so import this module only where a model is written.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from devices.runners.base import MeasureJob
from ofa.errors import ConfigError, ExportError
from ofa.io import atomic_write, atomic_write_bytes
from ofa.optional import require

FORMATS = ("onnx", "tflite", "pt2", "pte", "mlpackage.zip")
ONNX_OPSET = 17


def export_module(module: nn.Module, example: torch.Tensor, path: Path, fmt: str) -> Path:
    """Write ``module`` in ``fmt`` (see module docstring). 4-D tflite I/O is channels-last."""
    module = module.eval()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            if fmt == "onnx":
                atomic_write(path, lambda tmp: torch.onnx.export(
                    module, (example,), str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                    input_names=["input"], output_names=["output"]))
            elif fmt == "tflite":
                atomic_write_bytes(path, _tflite_bytes(module, example))
            elif fmt == "pt2":
                program = torch.export.export(module, (example,))
                atomic_write(path, lambda tmp: torch.export.save(program, str(tmp)))
            elif fmt == "pte":
                atomic_write_bytes(path, _pte_bytes(module, example))
            elif fmt == "mlpackage.zip":
                atomic_write_bytes(path, _mlpackage_zip(module, example))
            else:
                raise ConfigError(f"unknown model format {fmt!r}; valid: {list(FORMATS)}")
        except (ConfigError, ExportError):
            raise
        except Exception as exc:
            raise ExportError(f"building the {fmt} micro-model {path.name} failed: {str(exc).splitlines()[0]}") from exc
    return path


def _tflite_bytes(module: nn.Module, example: torch.Tensor) -> bytes:
    litert_torch = require("litert_torch", "LiteRT micro-models", "tflite")
    if example.dim() == 4:
        out_dims = module(example).dim()
        module = litert_torch.to_channel_last_io(module, args=[0], outputs=[0] if out_dims == 4 else []).eval()
        example = example.permute(0, 2, 3, 1).contiguous()
    from ofa.quiet import quiet  # the converter's progress lines go to the debug log

    return bytes(quiet(lambda: litert_torch.convert(module, (example,)).model_content()))


def _pte_bytes(module: nn.Module, example: torch.Tensor) -> bytes:
    require("executorch", "ExecuTorch micro-models", "executorch")
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower
    program = torch.export.export(module, (example,))
    return bytes(to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()]).to_executorch().buffer)


def _mlpackage_zip(module: nn.Module, example: torch.Tensor) -> bytes:
    import io
    import tempfile
    import zipfile

    ct = require("coremltools", "Core ML micro-models", "coreml")
    from ofa.quiet import quiet

    program = torch.export.export(module, (example,)).run_decompositions({})
    model = quiet(lambda: ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17,
                                     compute_precision=ct.precision.FLOAT32))
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        package = Path(tmp) / "model.mlpackage"
        model.save(str(package))
        for file in sorted(p for p in package.rglob("*") if p.is_file()):
            archive.write(file, file.relative_to(tmp).as_posix())
    return buffer.getvalue()


def device_shape(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """The input shape a runner feeds: NCHW as is, or NHWC for channels-last runners."""
    return (shape[0], shape[2], shape[3], shape[1]) if layout == "nhwc" and len(shape) == 4 else tuple(shape)


def tflite_input_name(path: Path) -> Optional[str]:
    """The input tensor's name in a ``.tflite`` file (None without the LiteRT interpreter installed)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter(model_path=str(path)).get_input_details()[0]["name"]


def model_job(job_id: str, path: Path, nchw_shape: tuple[int, ...], layout: str) -> MeasureJob:
    """The one way to turn a model file into a measuring job (blocks, whole networks, the drift anchor, zoo
    entries, ``ofa device check``): the input shape in the runner's layout, and a ``.tflite`` file's input name."""
    name = tflite_input_name(path) if Path(path).suffix == ".tflite" else None
    return MeasureJob(job_id, Path(path), device_shape(tuple(nchw_shape), layout), name)
