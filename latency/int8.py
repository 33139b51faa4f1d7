"""Int8 micro-models: each block (and whole sub-network) statically quantised, calibrated on dataset images.

An int8 latency table times what an int8 deployment runs: the same quantisers ``ofa export --precision
int8`` uses, applied to every micro-model.

* ``onnx``: onnxruntime ``quantize_static`` in QDQ format with the export's settings
  (:func:`export.onnx_quant.int8_qdq`: per-channel symmetric int8 weights, reduced range, symmetric int8
  activations, MinMax calibration). onnxruntime fuses the QDQ pairs into QLinear kernels at load time.
* ``tflite``: full-integer quantisation with ai-edge-quantizer (:func:`export.tflite_export.quantize_tflite`:
  int8 weights and activations, int8 input and output tensors), like the int8 TFLite export.

Calibration data. A table is built before any supernet exists, with random-weight blocks, so a block deep
in the network has no "real" input. What calibration decides is each tensor's quantisation scale (the
int8 kernels' time does not depend on the values), so the inputs only need a plausible scale and
spatial structure:

* inputs with 3 channels (the stem, whole sub-networks) are the dataset's normalised images, resized to
  the input size: exactly what the deployed model sees;
* deeper blocks get the same images resized to the block's input size, their 3 channels mixed into C
  by a fixed random projection, and each channel standardised over the calibration set: zero mean,
  unit variance, the scale BN hands between blocks (MBConv blocks take the previous block's linear
  BN output). Inputs that follow an h-swish in the network (pool, feature mix, classifier) pass through
  h-swish too. Each block's internal tensors are then calibrated on what the block itself computes.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from devices.modelfile import export_module
from ofa.errors import ConfigError
from ofa.io import atomic_write_bytes

log = logging.getLogger(__name__)
#: blocks whose input follows an h-swish in the network (the head after the final expand conv)
POST_ACTIVATION = ("pool", "feature_mix", "classifier")


@dataclass(frozen=True)
class Int8Calibration:
    """Where int8 micro-models take their calibration images from (recorded in the table's manifest)."""

    data: str = "builtin"  # a dataset spec as for `ofa train --data`: builtin, cifar10, a folder or tar
    images: int = 16  # MinMax calibration: a few images fix each tensor's range
    seed: int = 0

    def __post_init__(self):
        if self.images < 1:
            raise ConfigError(f"int8 calibration needs at least 1 image, got {self.images} (--calib-images)")

    @property
    def key(self) -> str:
        return f"{self.data}|{self.images}|{self.seed}"

    def to_dict(self) -> dict:
        return asdict(self) | {"how": "3-channel inputs: normalised dataset images; deeper blocks: the images "
                                      "projected to C channels and standardised (see latency/int8.py)"}

    @classmethod
    def from_dict(cls, data: "dict | None") -> "Int8Calibration":
        if not data:
            return cls()
        return cls(str(data.get("data", "builtin")), int(data.get("images", 16)), int(data.get("seed", 0)))

    @classmethod
    def of_manifest(cls, manifest: dict) -> "Int8Calibration | None":
        """The calibration an int8 table's micro-models were made with (None for other precisions)."""
        if manifest.get("device", {}).get("precision") != "int8":
            return None
        return cls.from_dict(manifest.get("protocol", {}).get("int8_calibration"))


@functools.lru_cache(maxsize=4)
def _dataset_images(calibration: Int8Calibration) -> torch.Tensor:
    """``images`` normalised training images of the dataset, (N, 3, H, W) float32 at its own size."""
    import random

    from ofa.data import open_dataset
    from ofa.errors import DataError

    dataset = open_dataset(calibration.data).dataset("train", train=False)
    order = list(range(len(dataset)))
    random.Random(calibration.seed).shuffle(order)
    picked = sorted(order[:calibration.images])
    if not picked:
        raise DataError(f"dataset {calibration.data!r} has no training images for int8 calibration")
    return torch.stack([dataset[i][0].float() for i in picked])


def check_calibration(calibration: Int8Calibration) -> int:
    """Load the calibration images once, before any micro-model is built (a bad dataset fails fast)."""
    return len(_dataset_images(calibration))


def calibration_inputs(calibration: Int8Calibration, shape: tuple[int, ...], post_activation: bool = False
                       ) -> list[np.ndarray]:
    """Calibration inputs of NCHW (or (1, C)) ``shape``, one array with batch 1 per image (module docstring)."""
    from ofa.data import resize_batch

    images = _dataset_images(calibration)
    size = shape[2] if len(shape) == 4 else 1
    x = resize_batch(images, size) if len(shape) == 4 else images.mean((2, 3), keepdim=True)
    channels = shape[1]
    if channels != 3:
        gen = torch.Generator().manual_seed(calibration.seed * 1_000_003 + channels)
        mix = torch.randn(channels, 3, generator=gen)
        x = torch.einsum("ck,nkhw->nchw", mix, x)
        x = (x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True).clamp_min(1e-6)
        if post_activation:
            x = nn.functional.hardswish(x)
    if len(shape) == 2:
        x = x.flatten(1)
    return [np.ascontiguousarray(x[i:i + 1].numpy(), dtype=np.float32) for i in range(len(x))]


def inline_shared_initializers(path: Path) -> Path:
    """Replace ``Identity`` nodes that copy an initializer by a copy of that initializer (in place).

    The TorchScript exporter stores equal tensors once and feeds the repeats through ``Identity`` nodes
    (random-init blocks have many equal folded-BN biases). onnxruntime's quantiser can only quantise a
    bias that is an initializer; with an ``Identity`` in front it leaves the Conv in float, and onnxruntime
    then runs a float Conv where the exported int8 network (dynamo exporter, no sharing) has a QLinearConv.
    """
    import onnx

    proto = onnx.load(str(path))
    inits = {t.name: t for t in proto.graph.initializer}
    keep = []
    for node in proto.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            copy = onnx.TensorProto()
            copy.CopyFrom(inits[node.input[0]])
            copy.name = node.output[0]
            proto.graph.initializer.append(copy)
        else:
            keep.append(node)
    if len(keep) != len(proto.graph.node):
        del proto.graph.node[:]
        proto.graph.node.extend(keep)
        onnx.save(proto, str(path))
    return path


def export_int8(module: nn.Module, shape: tuple[int, ...], path: Path, fmt: str, calibration: Int8Calibration,
                post_activation: bool = False) -> Path:
    """Write ``module`` as an int8 ``fmt`` micro-model at ``path`` (fp32 file first, then the quantiser)."""
    inputs = calibration_inputs(calibration, shape, post_activation)
    with tempfile.TemporaryDirectory(prefix="ofa-int8-") as tmp:
        fp32 = export_module(module, torch.from_numpy(inputs[0]), Path(tmp) / f"fp32.{fmt}", fmt)
        if fmt == "onnx":
            from export.onnx_quant import int8_qdq

            return int8_qdq(inline_shared_initializers(fp32), path, iter(inputs))
        if fmt == "tflite":
            from export.tflite_export import quantize_tflite

            content = quantize_tflite(fp32.read_bytes(), "int8", inputs, nhwc=len(shape) == 4)
            atomic_write_bytes(path, content)
            return path
    raise ConfigError(f"int8 micro-models exist for onnx and tflite runners, not {fmt!r}; use a device with "
                      "runner onnxruntime or litert for precision int8")


class SharedOutput(nn.Module):
    """A block whose output has a second consumer, as when a residual block follows it (see below)."""

    def __init__(self, block: nn.Module):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor):
        y = self.block(x)
        return y, y.flatten(1)


def feeds_residual(block, space) -> bool:
    """Whether an MBConv block's output is always read twice in a network: by the next block's first conv and
    by its residual add.

    onnxruntime leaves a QDQ conv in float when the ``DequantizeLinear`` of its *output* has two consumers,
    so in a whole int8 network the project conv of the first block of a stage (no residual of its own,
    followed by a residual block) runs in float, while its lone micro-model runs it as ``QLinearConv``
    (measured: 0.265 -> 0.332 ms for one r=192 block, 12 of 50 convolutions float in one network). A
    stage's first block is followed by a residual block in every network when the space's smallest depth is
    at least 2 (OFA-MBv3: 2); with depth 1 allowed it depends on the network, and the plain block is timed.
    The fixed first block (slot 0) is followed by the next stage's first block, which has no residual.
    """
    spec = getattr(block, "spec", None)
    return (block.kind == "mbconv" and spec is not None and spec.slot > 0 and not spec.residual
            and min(space.d_choices) >= 2)


def write_in_precision(module: nn.Module, shape: tuple[int, ...], path: Path, fmt: str, precision: str) -> Path:
    """``ofa device check``'s model writer: int8 as the tables make it (default calibration), else fp32."""
    if precision == "int8":
        return export_int8(module, shape, path, fmt, Int8Calibration())
    return export_module(module, torch.randn(shape), path, fmt)
