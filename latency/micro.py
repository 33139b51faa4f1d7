"""Micro-models: each table block (and whole sub-networks) as a small file in the runner's format.

Formats and how they are made (measured on a 2-core CPU; see docs/devices_and_latency.md):
- ``onnx``: the TorchScript-based ``torch.onnx.export(..., dynamo=False)``, ~0.1 s per block (the
  dynamo exporter takes seconds). Opset 17. BN stays a node; onnxruntime fuses it at load time. After
  onnxruntime's optimisation the graph is the one `ofa export` ships (dynamo, opset 20): the same nodes
  with the same attributes (tests/test_exporter_equivalence.py).
- ``tflite``: litert-torch with channels-last input/output (no transposes inside a block), ~2 s per
  conversion. A block is converted once per *shape class* (the same block at every resolution) and
  resized to each resolution on the device (``resize_tensor_input`` / ``--input_layer_shape``),
  which cuts conversions 5x for 5 resolutions; tests check resized outputs against PyTorch.
- ``pt2``: ``torch.export`` programs for the PyTorch runner.
- precision ``int8`` (onnx, tflite): the fp32 file statically quantised, calibrated on dataset images
  (:mod:`latency.int8`).
Files are cached by content key (format, opset, and for int8 the precision and calibration source) in a
directory, written atomically.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from devices.modelfile import FORMATS, ONNX_OPSET, export_module
from latency.blocks import LutBlock
from latency.int8 import POST_ACTIVATION, Int8Calibration, SharedOutput, export_int8, feeds_residual
from latency.resnet_blocks import RESNET_KINDS, resnet_block_module
from ofa.errors import ConfigError
from ofa.nn.layers import ConvBNAct, init_weights
from ofa.nn.mbconv import MBConv
from ofa.nn.static import StaticSubnet
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

log = logging.getLogger(__name__)


class GlobalPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean((2, 3), keepdim=True)


class Classifier(nn.Module):
    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def block_module(block: LutBlock, space: SearchSpace) -> nn.Module:
    """The PyTorch module of one table block, built from the same layers as static sub-networks."""
    if block.kind in RESNET_KINDS:
        return resnet_block_module(block, space)
    bn = dict(bn_eps=space.bn_eps, bn_momentum=space.bn_momentum)
    if block.kind == "stem":
        module = ConvBNAct(3, block.out_channels, 3, block.stride, block.act, **bn)
    elif block.kind == "mbconv":
        module = MBConv(block.spec, space.bn_eps, space.bn_momentum)
    elif block.kind == "final_expand":
        module = ConvBNAct(block.in_channels, block.out_channels, 1, act=block.act, **bn)
    elif block.kind == "pool":
        module = GlobalPool()
    elif block.kind == "feature_mix":
        module = ConvBNAct(block.in_channels, block.out_channels, 1, act=block.act, use_bn=False, **bn)
    elif block.kind == "classifier":
        module = Classifier(block.in_channels, block.out_channels)
    else:
        raise ConfigError(f"unknown block kind {block.kind!r}")
    init_weights(module)
    return module.eval()


PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class MicroRecipe:
    """How micro-models are made: file format, precision, and (int8) where calibration images come from."""

    fmt: str
    precision: str = "fp32"
    calibration: Optional[Int8Calibration] = None

    @property
    def key(self) -> str:
        base = f"{self.fmt}|opset{ONNX_OPSET}"
        return base if self.precision == "fp32" else f"{base}|{self.precision}|{self.calibration.key}"


class ModelCache:
    """Micro-model files by content key under ``directory`` (built on first use).

    ``precision`` int8 quantises every file (:mod:`latency.int8`), calibrated on ``calibration``
    (default :class:`~latency.int8.Int8Calibration`); the key includes both, so fp32 and int8 files of
    the same block never collide.
    """

    def __init__(self, directory: "str | Path", fmt: str, precision: str = "fp32",
                 calibration: Optional[Int8Calibration] = None):
        if fmt not in FORMATS:
            raise ConfigError(f"unknown model format {fmt!r}; valid: {list(FORMATS)}")
        if precision not in PRECISIONS:
            raise ConfigError(f"micro-models are built in precision {list(PRECISIONS)}, not {precision!r}")
        if precision == "int8" and calibration is None:
            calibration = Int8Calibration()
        self.recipe = MicroRecipe(fmt, precision, calibration if precision == "int8" else None)
        self.directory, self.fmt = Path(directory), fmt
        self.directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    def for_session(cls, directory: "str | Path", session, calibration: Optional[Int8Calibration] = None) -> "ModelCache":
        """The cache of a device session's format and precision (``runner.precision`` of its device)."""
        return cls(directory, session.model_format, session.spec.runner.precision, calibration)

    @property
    def precision(self) -> str:
        return self.recipe.precision

    def _path(self, name: str) -> Path:
        digest = hashlib.sha256(f"{name}|{self.recipe.key}".encode()).hexdigest()[:16]
        return self.directory / f"{digest}.{self.fmt}"

    def block(self, block: LutBlock, space: SearchSpace) -> Path:
        """The block's file; tflite files are shared by a shape class (resized on the device)."""
        path = self._block_path(block, space)
        if not path.is_file():
            _build_block(block, space, path, self.recipe)
        return path

    def _block_path(self, block: LutBlock, space: Optional[SearchSpace] = None) -> Path:
        name = block.shape_class if self.fmt == "tflite" else block.key
        if self._shares_output(block, space):
            name += "|feeds-residual"
        return self._path(name)

    def _shares_output(self, block: LutBlock, space: Optional[SearchSpace]) -> bool:
        """int8 ONNX blocks whose output a residual block reads twice (:func:`latency.int8.feeds_residual`)."""
        return self.recipe.precision == "int8" and self.fmt == "onnx" and space is not None \
            and feeds_residual(block, space)

    def prebuild(self, blocks: list[LutBlock], space: SearchSpace, workers: int) -> int:
        """Build the missing block files ``workers`` at a time; returns how many were built.

        Conversion (litert-torch especially, ~2 s a block) is single-threaded Python, so a process
        pool divides the table's set-up time; it runs before any measurement, never beside one.
        """
        missing: dict[Path, LutBlock] = {}
        for block in blocks:
            path = self._block_path(block, space)
            if not path.is_file():
                missing.setdefault(path, block)
        if workers <= 1 or len(missing) < 2 * workers:
            return 0  # built one by one on first use
        log.info("converting %d %s micro-models with %d processes", len(missing), self.fmt, workers)
        context = multiprocessing.get_context("spawn")  # no forked torch/thread state in the workers
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_init) as pool:
            jobs = [pool.submit(_build_block, block, space, path, self.recipe) for path, block in missing.items()]
            for job in jobs:
                job.result()  # re-raises a conversion error with its message
        return len(missing)

    def subnet(self, space: SearchSpace, cfg: SubnetConfig, num_classes: int) -> Path:
        path = self._path(f"net|{cfg.to_json()}|{num_classes}")
        if not path.is_file():
            if isinstance(space, SearchSpace):
                model = StaticSubnet(space, cfg, num_classes).eval()
            else:  # an OFA-ResNet config (the static network of ofa.nn.resnet)
                from ofa.nn.resnet import StaticResNet

                model = StaticResNet(space, cfg, num_classes).eval()
            _write(model, (1, 3, cfg.r, cfg.r), path, self.recipe)
        return path


def _build_block(block: LutBlock, space: SearchSpace, path: Path, recipe: MicroRecipe) -> None:
    shape = _build_shape(block, recipe.fmt == "tflite")
    module = block_module(block, space)
    if recipe.precision == "int8" and recipe.fmt == "onnx" and feeds_residual(block, space):
        module = SharedOutput(module).eval()
    _write(module, shape, path, recipe, block.kind in POST_ACTIVATION)


def _write(module: nn.Module, shape: tuple[int, ...], path: Path, recipe: MicroRecipe,
           post_activation: bool = False) -> None:
    if recipe.precision == "int8":
        export_int8(module, shape, path, recipe.fmt, recipe.calibration, post_activation)
    else:
        export_module(module, torch.randn(shape), path, recipe.fmt)


def _worker_init() -> None:
    """Conversion workers: one thread each, and no optional-kernel notices of the converter's deps."""
    from ofa.quiet import silence_converter_logs

    torch.set_num_threads(1)
    silence_converter_logs()


def _build_shape(block: LutBlock, resizable: bool) -> tuple[int, ...]:
    """Shape a block is converted at. Resizable blocks use a fixed size so every resolution shares them."""
    shape = block.input_shape
    if not resizable or len(shape) != 4 or block.kind in ("feature_mix",):
        return shape
    return (1, shape[1], 32, 32) if block.in_size > 1 else shape
