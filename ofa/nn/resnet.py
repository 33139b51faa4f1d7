"""OFA-ResNet50: the elastic supernet (depth, expand ratio, width), its static sub-networks, and their cost.

Module and parameter names follow the official package once its dynamic-layer repetitions are folded
(``input_stem.0.conv.weight``, ``blocks.N.conv2.bn.running_var``, ``blocks.N.downsample.conv.weight``,
``classifier.linear.weight``), so importing an official checkpoint is a key normalisation. A static
sub-network is built from the same classes at exact sizes (one choice each), so extraction is a slice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ofa.complexity import Complexity
from ofa.errors import ConfigError
from ofa.nn.elastic import ElasticBatchNorm
from ofa.spaces.resnet import ResNetConfig, ResNetSpace


class ElasticConv(nn.Module):
    """A k x k conv holding its largest weight; runs the first ``out`` filters on the input's channels."""

    is_elastic_conv = True

    def __init__(self, max_in: int, max_out: int, kernel: int, stride: int = 1):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.weight = nn.Parameter(torch.empty(max_out, max_in, kernel, kernel))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")

    def forward(self, x: torch.Tensor, out: int) -> torch.Tensor:
        return F.conv2d(x, self.weight[:out, :x.shape[1]], None, self.stride, self.kernel // 2)


class ConvBN(nn.Module):
    """conv -> BN -> (ReLU): the official ``DynamicConvLayer`` and the bottleneck's ``conv1/2/3``."""

    def __init__(self, max_in: int, max_out: int, kernel: int, stride: int, relu: bool, bn: dict):
        super().__init__()
        self.conv, self.bn, self.relu = ElasticConv(max_in, max_out, kernel, stride), ElasticBatchNorm(max_out, **bn), relu

    def forward(self, x: torch.Tensor, out: int) -> torch.Tensor:
        x = self.bn(self.conv(x, out))
        return F.relu(x) if self.relu else x

    def static_state(self, cin: int, out: int) -> dict[str, torch.Tensor]:
        return {"conv.weight": self.conv.weight[:out, :cin], **{f"bn.{k}": v for k, v in self.bn.static_state(out).items()}}


class StemResidual(nn.Module):
    """The stem's middle conv with an identity shortcut (dropped by the stem-skipping rule)."""

    def __init__(self, channels: int, bn: dict):
        super().__init__()
        self.conv = ConvBN(channels, channels, 3, 1, True, bn)

    def forward(self, x: torch.Tensor, out: int) -> torch.Tensor:
        return self.conv(x, out) + x


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 with a shortcut (identity, or avg-pool + 1x1 conv + BN); ReLU after the sum."""

    def __init__(self, max_in: int, max_out: int, max_mid: int, stride: int, downsample: bool, bn: dict):
        super().__init__()
        self.conv1 = ConvBN(max_in, max_mid, 1, 1, True, bn)
        self.conv2 = ConvBN(max_mid, max_mid, 3, stride, True, bn)
        self.conv3 = ConvBN(max_mid, max_out, 1, 1, False, bn)
        self.stride = stride
        self.downsample = ConvBN(max_in, max_out, 1, 1, False, bn) if downsample else None
        self.active_out, self.active_mid = max_out, max_mid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        if self.downsample is not None:
            pooled = F.avg_pool2d(x, self.stride, self.stride, 0, ceil_mode=True) if self.stride > 1 else x
            residual = self.downsample(pooled, self.active_out)
        h = self.conv2(self.conv1(x, self.active_mid), self.active_mid)
        return F.relu(self.conv3(h, self.active_out) + residual)

    def static_state(self, cin: int, mid: int, out: int) -> dict[str, torch.Tensor]:
        state = {}
        for name, layer, a, b in (("conv1", self.conv1, cin, mid), ("conv2", self.conv2, mid, mid), ("conv3", self.conv3, mid, out)):
            state |= {f"{name}.{k}": v for k, v in layer.static_state(a, b).items()}
        if self.downsample is not None:
            state |= {f"downsample.{k}": v for k, v in self.downsample.static_state(cin, out).items()}
        return state


class OFAResNet(nn.Module):
    """Every sub-network of a :class:`ResNetSpace` in one set of weights (``set_active`` selects one)."""

    def __init__(self, space: ResNetSpace, num_classes: int, dropout: float = 0.0):
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        bn, top = dict(eps=space.bn_eps, momentum=space.bn_momentum), len(space.w_choices) - 1
        self.space, self.num_classes, self.dropout_rate = space, num_classes, dropout
        mid, stem = space.stem_mid_channels(top), space.stem_channels(top)
        self.input_stem = nn.ModuleList([ConvBN(3, mid, 3, 2, True, bn), StemResidual(mid, bn), ConvBN(mid, stem, 3, 1, True, bn)])
        blocks, cin = [], stem
        for s, slots in enumerate(space.stage_blocks):
            out = space.stage_channels(s, top)
            for i, _ in enumerate(slots):  # a stage's first block changes shape: avg-pool + 1x1 conv shortcut
                stride = space.strides[s] if i == 0 else 1
                blocks.append(Bottleneck(cin, out, ResNetSpace.mid_channels(out, max(space.e_choices)), stride, i == 0, bn))
                cin = out
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Module()
        self.classifier.linear = nn.Linear(cin, num_classes)
        nn.init.normal_(self.classifier.linear.weight, 0, 0.01)
        nn.init.zeros_(self.classifier.linear.bias)
        self.set_active(ResNetConfig.largest(space))

    def set_active(self, cfg: ResNetConfig) -> None:
        cfg.validate(self.space)
        self.config, space = cfg, self.space
        for s, slot in [(s, slot) for s, slots in enumerate(space.stage_blocks) for slot in slots]:
            out = space.stage_channels(s, cfg.w[2 + s])
            self.blocks[slot].active_out, self.blocks[slot].active_mid = out, ResNetSpace.mid_channels(out, cfg.e[slot])

    def active(self) -> list[Bottleneck]:
        return [self.blocks[slot] for _, slot in self.config.active_blocks(self.space)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg, space = self.config, self.space
        mid, stem = space.stem_mid_channels(cfg.w[0]), space.stem_channels(cfg.w[1])
        x = self.input_stem[0](x, mid)
        if not cfg.skips_stem_conv(space):
            x = self.input_stem[1](x, mid)
        return self._finish(self.input_stem[2](x, stem))

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(x, 3, 2, 1)
        for block in self.active():
            x = block(x)
        x = torch.flatten(x.mean((2, 3)), 1)
        return F.linear(self.dropout(x), self.classifier.linear.weight[:, :x.shape[1]], self.classifier.linear.bias)

    def extract(self, cfg: ResNetConfig) -> "StaticResNet":
        """The static network of ``cfg`` with its weights sliced from this supernet (eval mode)."""
        net = StaticResNet(self.space, cfg, self.num_classes, self.dropout_rate)
        net.load_state_dict(static_state_dict(self, cfg), strict=True)
        return net.eval()


class StaticResNet(OFAResNet):
    """One sub-network at exact sizes (the supernet's classes with a single choice each)."""

    def __init__(self, space: ResNetSpace, cfg: ResNetConfig, num_classes: int, dropout: float = 0.0):
        cfg.validate(space)
        nn.Module.__init__(self)
        bn = dict(eps=space.bn_eps, momentum=space.bn_momentum)
        self.space, self.num_classes, self.dropout_rate, self.config = space, num_classes, dropout, cfg
        mid, stem = space.stem_mid_channels(cfg.w[0]), space.stem_channels(cfg.w[1])
        layers = [ConvBN(3, mid, 3, 2, True, bn)] + ([] if cfg.skips_stem_conv(space) else [StemResidual(mid, bn)])
        self.input_stem = nn.ModuleList([*layers, ConvBN(mid, stem, 3, 1, True, bn)])
        blocks, cin = [], stem
        for s, slot in cfg.active_blocks(space):
            out, first = space.stage_channels(s, cfg.w[2 + s]), slot == space.stage_blocks[s][0]
            stride = space.strides[s] if first else 1
            blocks.append(Bottleneck(cin, out, ResNetSpace.mid_channels(out, cfg.e[slot]), stride, first, bn))
            cin = out
        self.blocks = nn.ModuleList(blocks)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Module()
        self.classifier.linear = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._finish(static_stem(self.input_stem, x))

    def active(self) -> list[Bottleneck]:
        return list(self.blocks)


def static_stem(layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """The input stem of a static network: each conv at its exact width."""
    for layer in layers:
        conv = layer.conv.conv if isinstance(layer, StemResidual) else layer.conv
        x = layer(x, conv.weight.shape[0])
    return x


class StemPart(nn.Module):
    """A static network's input stem and max pooling alone: a latency-table block (:mod:`latency.resnet_blocks`)."""

    def __init__(self, mid: int, channels: int, residual: bool, bn: dict):
        super().__init__()
        layers = [ConvBN(3, mid, 3, 2, True, bn)] + ([StemResidual(mid, bn)] if residual else [])
        self.input_stem = nn.ModuleList([*layers, ConvBN(mid, channels, 3, 1, True, bn)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(static_stem(self.input_stem, x), 3, 2, 1)


class HeadPart(nn.Module):
    """A static network's global pooling and classifier alone (a latency-table block; dropout is off in eval)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.classifier = nn.Module()
        self.classifier.linear = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x.mean((2, 3)), 1)
        return F.linear(x, self.classifier.linear.weight[:, :x.shape[1]], self.classifier.linear.bias)


def static_state_dict(supernet: OFAResNet, cfg: ResNetConfig) -> dict[str, torch.Tensor]:
    space = supernet.space
    cfg.validate(space)
    mid, stem = space.stem_mid_channels(cfg.w[0]), space.stem_channels(cfg.w[1])
    stem_layers = [(supernet.input_stem[0], 3, mid)]
    if not cfg.skips_stem_conv(space):
        stem_layers.append((supernet.input_stem[1], mid, mid))
    stem_layers.append((supernet.input_stem[2], mid, stem))
    state: dict[str, torch.Tensor] = {}
    for i, (layer, cin, out) in enumerate(stem_layers):
        prefix = f"input_stem.{i}.conv." if isinstance(layer, StemResidual) else f"input_stem.{i}."
        conv = layer.conv if isinstance(layer, StemResidual) else layer
        state |= {prefix + k: v for k, v in conv.static_state(cin, out).items()}
    cin = stem
    for i, (s, slot) in enumerate(cfg.active_blocks(space)):
        out = space.stage_channels(s, cfg.w[2 + s])
        block_state = supernet.blocks[slot].static_state(cin, ResNetSpace.mid_channels(out, cfg.e[slot]), out)
        state |= {f"blocks.{i}.{k}": v for k, v in block_state.items()}
        cin = out
    state["classifier.linear.weight"] = supernet.classifier.linear.weight[:, :cin]
    state["classifier.linear.bias"] = supernet.classifier.linear.bias
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


def resnet_cost(space: ResNetSpace, cfg: ResNetConfig, num_classes: int) -> Complexity:
    """MACs (convolutions and classifier, as OFA counts FLOPs) and parameters (BN affine included)."""
    cfg.validate(space)
    macs = params = 0
    size = (cfg.r - 1) // 2 + 1

    def conv(cin: int, out: int, k: int, out_size: int) -> None:
        nonlocal macs, params
        macs += cin * out * k * k * out_size * out_size
        params += cin * out * k * k + 2 * out

    mid, stem = space.stem_mid_channels(cfg.w[0]), space.stem_channels(cfg.w[1])
    conv(3, mid, 3, size)
    if not cfg.skips_stem_conv(space):
        conv(mid, mid, 3, size)
    conv(mid, stem, 3, size)
    size, cin = (size - 1) // 2 + 1, stem
    for s, slot in cfg.active_blocks(space):
        out, first = space.stage_channels(s, cfg.w[2 + s]), slot == space.stage_blocks[s][0]
        stride = space.strides[s] if first else 1
        out_size, mid = (size - 1) // stride + 1, ResNetSpace.mid_channels(out, cfg.e[slot])
        conv(cin, mid, 1, size)
        conv(mid, mid, 3, out_size)
        conv(mid, out, 1, out_size)
        if first:  # the avg-pool + 1x1 conv shortcut
            conv(cin, out, 1, out_size)
        size, cin = out_size, out
    macs += cin * num_classes
    params += cin * num_classes + num_classes
    return Complexity(macs=macs, params=params)
