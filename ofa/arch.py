"""Layer-by-layer architecture of a sub-network, derived from (space, config) as plain data.

The same :class:`BlockSpec` list builds the static ``nn.Module``, counts FLOPs/params analytically,
and names the latency-table blocks, so the three can never disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


def conv_out(size: int, stride: int) -> int:
    """Spatial size after a 'same'-padded conv (padding k//2) with ``stride``."""
    return (size - 1) // stride + 1


@dataclass(frozen=True)
class BlockSpec:
    slot: int  # index into the supernet's ``blocks`` (0 = the fixed first block)
    in_channels: int
    out_channels: int
    mid_channels: int
    kernel: int
    expand: int
    stride: int
    act: str
    se_channels: int  # 0 = no squeeze-excite
    in_size: int  # input feature-map height (= width) at the config's resolution

    @property
    def residual(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels

    @property
    def out_size(self) -> int:
        return conv_out(self.in_size, self.stride)

    def to_dict(self) -> dict:
        return asdict(self) | {"residual": self.residual}


@dataclass(frozen=True)
class NetSpec:
    """Everything needed to build or cost a static sub-network."""

    resolution: int
    stem_channels: int
    stem_stride: int
    stem_act: str
    blocks: tuple[BlockSpec, ...]
    final_expand_channels: int
    feature_mix_channels: int | None  # None: no conv after pooling (ProxylessNAS head)
    head_size: int  # feature-map size entering the head
    head_act: str = "h_swish"

    @property
    def classifier_in_channels(self) -> int:
        return self.feature_mix_channels or self.final_expand_channels

    @property
    def last_channels(self) -> int:
        return self.blocks[-1].out_channels


def first_block_spec(space: SearchSpace, in_size: int) -> BlockSpec:
    fb = space.first_block
    return BlockSpec(
        slot=0,
        in_channels=space.stem_channels,
        out_channels=space.first_block_channels,
        mid_channels=space.stem_channels,
        kernel=3,
        expand=1,
        stride=fb.stride,
        act=fb.act,
        se_channels=space.se_channels(space.stem_channels) if fb.se else 0,
        in_size=in_size,
    )


def stage_block_spec(space: SearchSpace, slot: int, in_channels: int, kernel: int, expand: int, in_size: int) -> BlockSpec:
    """Spec of the block in supernet ``slot`` (1-based stage slots) for a given k/e and input."""
    stage_idx, pos = divmod(slot - 1, space.max_depth)
    stage = space.stages[stage_idx]
    mid = space.mid_channels(in_channels, expand)
    return BlockSpec(
        slot=slot,
        in_channels=in_channels,
        out_channels=space.stage_channels[stage_idx],
        mid_channels=mid,
        kernel=kernel,
        expand=expand,
        stride=stage.stride if pos == 0 else 1,
        act=stage.act,
        se_channels=space.se_channels(mid) if stage.se else 0,
        in_size=in_size,
    )


def net_spec(space: SearchSpace, cfg: SubnetConfig, resolution: int | None = None) -> NetSpec:
    """The static architecture a config selects (at ``resolution``, default ``cfg.r``)."""
    r = resolution or cfg.r
    size = conv_out(r, space.stem.stride)
    blocks = [first_block_spec(space, size)]
    size = blocks[0].out_size
    channels = blocks[0].out_channels
    for slot0 in cfg.active_slots(space):
        spec = stage_block_spec(space, slot0 + 1, channels, cfg.ks[slot0], cfg.e[slot0], size)
        blocks.append(spec)
        channels, size = spec.out_channels, spec.out_size
    return NetSpec(
        resolution=r,
        stem_channels=space.stem_channels,
        stem_stride=space.stem.stride,
        stem_act=space.stem.act,
        blocks=tuple(blocks),
        final_expand_channels=space.final_expand_channels,
        feature_mix_channels=space.feature_mix_channels,
        head_size=size,
        head_act=space.head_act,
    )


def supernet_block_specs(space: SearchSpace) -> list[BlockSpec]:
    """Specs of every supernet block at its largest kernel/expand (sizes at the largest resolution)."""
    full = SubnetConfig.largest(space)
    return list(net_spec(space, full).blocks)
