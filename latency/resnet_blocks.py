"""Latency-table blocks of an OFA-ResNet space: its stem, bottleneck blocks and head, keyed by actual shapes.

A ResNet sub-network runs three kinds of block, each named by what fixes its cost:

- ``resnet_stem``: the input stem and its max pooling, per (resolution, mid width, stem width, whether the
  stem's residual conv runs): ``ResNetStem-input:RxRx3-mid:M-output:HxWxC-residual:0|1``;
- ``bottleneck``: ``Bottleneck-input:HxWxCin-output:HxWxCout-mid:M-stride:S-downsample:0|1`` (a stage's
  first block has the avg-pool + 1x1 conv shortcut; its input width is the previous stage's choice);
- ``resnet_head``: global pooling and the classifier, ``ResNetHead-input:HxWxC-output:N``.

The table's blocks are exactly the parts of :func:`ofa.resnet_cost_table.build_resnet_table` (its part
functions name them here), so every config's latency is the sum of its entries, and the predictor
(:mod:`latency.resnet_predictor`) fills the same dense tables from the timings. Micro-models are built
from the network's own modules (:class:`~ofa.nn.resnet.StemPart`, :class:`~ofa.nn.resnet.Bottleneck`,
:class:`~ofa.nn.resnet.HeadPart`). OFA-ResNet50 has 12 + 144 + 3 = 159 blocks per resolution (its three stem widths
have two distinct mid widths).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from torch import nn

from latency.blocks import LutBlock, enumerate_blocks
from ofa.errors import ConfigError
from ofa.resnet_cost_table import build_resnet_table, conv_size
from ofa.spaces import SearchSpace, get_space
from ofa.spaces.resnet import ResNetConfig, ResNetSpace

RESNET_KINDS = ("resnet_stem", "bottleneck", "resnet_head")
#: keys only a ResNet space definition has (tells a ResNet space file from a MobileNetV3-family one)
_RESNET_FIELDS = {"w_choices", "base_depths", "stage_widths"}


def lut_space(spec: "str | Path | dict | SearchSpace | ResNetSpace") -> "SearchSpace | ResNetSpace":
    """The space of ``ofa lut build --space``: an id or a JSON/YAML file of either family."""
    from ofa.resnet_artifacts import RESNET_SPACES, resnet_space

    if isinstance(spec, (SearchSpace, ResNetSpace)):
        return spec
    if isinstance(spec, dict):
        return resnet_space(spec) if _RESNET_FIELDS & set(spec) else get_space(spec)
    text = str(spec)
    if text in RESNET_SPACES:
        return RESNET_SPACES[text]
    if Path(text).suffix in {".json", ".yaml", ".yml"} and Path(text).is_file():
        from ofa.spaces import read_space_file

        data = read_space_file(Path(text))
        if isinstance(data, dict) and _RESNET_FIELDS & set(data):
            return resnet_space(Path(text))
    return get_space(spec)


def _hwc(size: int, channels: int) -> str:
    return f"{size}x{size}x{channels}"


def stem_block(r: int, mid: int, channels: int, residual: bool) -> LutBlock:
    out = conv_size(conv_size(r, 2), 2)
    key = f"ResNetStem-input:{_hwc(r, 3)}-mid:{mid}-output:{_hwc(out, channels)}-residual:{int(residual)}"
    return LutBlock(key, "resnet_stem", r, r, 3, out, channels, stride=4, mid=mid, shortcut=residual)


def bottleneck_block(r: int, size: int, cin: int, mid: int, cout: int, stride: int, downsample: bool) -> LutBlock:
    out = conv_size(size, stride)
    key = (f"Bottleneck-input:{_hwc(size, cin)}-output:{_hwc(out, cout)}-mid:{mid}-stride:{stride}"
           f"-downsample:{int(downsample)}")
    return LutBlock(key, "bottleneck", r, size, cin, out, cout, stride=stride, mid=mid, shortcut=downsample)


def head_block(r: int, size: int, channels: int, num_classes: int) -> LutBlock:
    return LutBlock(f"ResNetHead-input:{_hwc(size, channels)}-output:{num_classes}", "resnet_head", r, size, channels,
                    1, num_classes, act="none")


def table_parts(space: ResNetSpace, resolutions: Sequence[int], num_classes: int, value) -> object:
    """:func:`build_resnet_table` whose entries are ``value(block)`` for each part's :class:`LutBlock`."""
    return build_resnet_table(
        space, lambda r, mid, ch, res: value(stem_block(r, mid, ch, res)),
        lambda r, size, cin, mid, cout, stride, ds: value(bottleneck_block(r, size, cin, mid, cout, stride, ds)),
        lambda r, size, ch: value(head_block(r, size, ch, num_classes)), set(resolutions))


def enumerate_resnet_blocks(space: ResNetSpace, resolutions: Sequence[int], num_classes: int = 1000) -> list[LutBlock]:
    """Every distinct block of ``space`` at each resolution (the parts of its cost tables), keyed ``(r, key)``."""
    bad = sorted(set(resolutions) - set(space.resolutions))
    if bad:
        raise ConfigError(f"resolutions {bad} are not in space {space.id}; valid: {list(space.resolutions)}")
    found: dict[tuple[int, str], LutBlock] = {}

    def record(block: LutBlock) -> float:
        found.setdefault(block.ident, block)
        return 0.0

    table_parts(space, resolutions, num_classes, record)
    return list(found.values())


def space_blocks(space: "SearchSpace | ResNetSpace", resolutions: Sequence[int],
                 num_classes: int = 1000) -> list[LutBlock]:
    """Every distinct block of a space of either family (MobileNetV3: :func:`latency.blocks.enumerate_blocks`)."""
    if isinstance(space, ResNetSpace):
        return enumerate_resnet_blocks(space, resolutions, num_classes)
    return enumerate_blocks(space, resolutions, num_classes)


def network_block_keys(space: ResNetSpace, cfg: ResNetConfig, num_classes: int = 1000) -> list[str]:
    """Keys of the blocks a sub-network runs, in order, walked from the config itself (the slow, obvious path
    that checks the dense tables: tests/test_resnet_lut.py)."""
    cfg.validate(space)
    mid, channels = space.stem_mid_channels(cfg.w[0]), space.stem_channels(cfg.w[1])
    stem = stem_block(cfg.r, mid, channels, not cfg.skips_stem_conv(space))
    keys, size, cin = [stem.key], stem.out_size, channels
    for s, slot in cfg.active_blocks(space):
        first = slot == space.stage_blocks[s][0]
        cout, stride = space.stage_channels(s, cfg.w[2 + s]), space.strides[s] if first else 1
        block = bottleneck_block(cfg.r, size, cin, ResNetSpace.mid_channels(cout, cfg.e[slot]), cout, stride, first)
        keys.append(block.key)
        size, cin = block.out_size, cout
    return keys + [head_block(cfg.r, size, cin, num_classes).key]


def anchor_block(space: ResNetSpace, resolutions: Sequence[int]) -> LutBlock:
    """The drift anchor: the middle stage's first block at the middle width and expand ratio, lowest resolution."""
    from ofa.resnet_cost_table import slot_inputs

    r, s, w = min(resolutions), len(space.base_depths) // 2, len(space.w_choices) // 2
    slot = space.stage_blocks[s][0]
    size, stride, _ = slot_inputs(space, r)[slot]
    cout = space.stage_channels(s, w)
    mid = ResNetSpace.mid_channels(cout, sorted(space.e_choices)[len(space.e_choices) // 2])
    cin = space.stage_channels(s - 1, w) if s else space.stem_channels(w)
    return bottleneck_block(r, size, cin, mid, cout, stride, True)


def resnet_block_module(block: LutBlock, space: ResNetSpace) -> nn.Module:
    """The PyTorch module of one ResNet table block, from the static network's own classes (eval mode)."""
    from ofa.nn.resnet import Bottleneck, HeadPart, StemPart

    bn = dict(eps=space.bn_eps, momentum=space.bn_momentum)
    if block.kind == "resnet_stem":
        return StemPart(block.mid, block.out_channels, block.shortcut, bn).eval()
    if block.kind == "bottleneck":
        return Bottleneck(block.in_channels, block.out_channels, block.mid, block.stride, block.shortcut, bn).eval()
    if block.kind == "resnet_head":
        return HeadPart(block.in_channels, block.out_channels).eval()
    raise ConfigError(f"unknown ResNet block kind {block.kind!r}")
