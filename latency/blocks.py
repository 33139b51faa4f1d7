"""Every distinct block a space can produce, named with OFA's latency-table keys.

A network is stem -> first block -> MBConv blocks -> head (final expand conv, average pool, feature
mix conv (MobileNetV3 only), classifier), as in OFA's ``LatencyTable.predict_network_latency``. Slots past a
capped stage's ``max_blocks`` (ProxylessNAS's one-block last stage) reuse the stage's first block's key,
so every slot has one and nothing extra is profiled; no sub-network runs them: the predictors mask them out
(``SearchSpace.active_mask``). The block at a slot
depends only on (stage, first-in-stage or not, kernel, expand, resolution), so a space has
``1 + 1 + stages x 2 x |k| x |e| + 4`` blocks per resolution: 96 for OFA-MobileNetV3.

Keys use OFA's format (``expanded_conv-input:HxWxC-output:HxWxC-expand:MID-kernel:K-stride:S-
idskip:0|1-se:0|1-hs:0|1``), so OFA's own YAML tables can be read as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ofa.arch import BlockSpec, conv_out, first_block_spec, net_spec, stage_block_spec
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

KINDS = ("stem", "mbconv", "final_expand", "pool", "feature_mix", "classifier")


@dataclass(frozen=True)
class LutBlock:
    """One table entry: what to build, its input shape, and its OFA-format key."""

    key: str
    kind: str
    resolution: int
    in_size: int
    in_channels: int
    out_size: int
    out_channels: int
    spec: Optional[BlockSpec] = field(default=None, compare=False)  # for kind == "mbconv"
    act: str = "relu"
    stride: int = 1
    mid: int = 0  # OFA-ResNet blocks (latency.resnet_blocks): hidden width (the stem's: its first conv's)
    shortcut: bool = False  # OFA-ResNet: the stem's residual conv runs / the bottleneck has the downsample shortcut

    @property
    def ident(self) -> tuple[int, str]:
        return (self.resolution, self.key)

    @property
    def job_id(self) -> str:
        return f"{self.resolution}|{self.key}"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """NCHW input shape (classifier: ``(1, C)``)."""
        if self.kind == "classifier":
            return (1, self.in_channels)
        return (1, self.in_channels, self.in_size, self.in_size)

    @property
    def shape_class(self) -> str:
        """The key without spatial sizes: blocks that differ only by resolution share it."""
        if self.spec is not None:
            s = self.spec
            return f"mbconv-{s.in_channels}-{s.out_channels}-{s.mid_channels}-k{s.kernel}-s{s.stride}-se{s.se_channels}-{s.act}"
        if self.mid:  # an OFA-ResNet stem or bottleneck
            return f"{self.kind}-{self.in_channels}-{self.mid}-{self.out_channels}-s{self.stride}-x{int(self.shortcut)}"
        return f"{self.kind}-{self.in_channels}-{self.out_channels}-s{self.stride}-{self.act}"

    def row(self) -> dict:
        s = self.spec
        return {"key": self.key, "kind": self.kind, "resolution": self.resolution, "in_size": self.in_size,
                "in_channels": self.in_channels, "out_size": self.out_size, "out_channels": self.out_channels,
                "mid_channels": s.mid_channels if s else self.mid, "kernel": s.kernel if s else 0,
                "stride": self.stride, "expand": s.expand if s else 0, "se": int(bool(s and s.se_channels)),
                "act": self.act}


def _hwc(size: int, channels: int) -> str:
    return f"{size}x{size}x{channels}"


def mbconv_key(b: BlockSpec) -> str:
    return (f"expanded_conv-input:{_hwc(b.in_size, b.in_channels)}-output:{_hwc(b.out_size, b.out_channels)}"
            f"-expand:{b.mid_channels}-kernel:{b.kernel}-stride:{b.stride}-idskip:{int(b.residual)}"
            f"-se:{int(b.se_channels > 0)}-hs:{int(b.act == 'h_swish')}")


def mbconv_block(b: BlockSpec, resolution: int) -> LutBlock:
    return LutBlock(mbconv_key(b), "mbconv", resolution, b.in_size, b.in_channels, b.out_size, b.out_channels,
                    spec=b, act=b.act, stride=b.stride)


def stem_block(space: SearchSpace, r: int) -> LutBlock:
    size = conv_out(r, space.stem.stride)
    key = f"Conv-input:{_hwc(r, 3)}-output:{_hwc(size, space.stem_channels)}"
    return LutBlock(key, "stem", r, r, 3, size, space.stem_channels, act=space.stem.act, stride=space.stem.stride)


def head_blocks(space: SearchSpace, r: int, size: int, last_channels: int, num_classes: int) -> list[LutBlock]:
    fe, fm, act = space.final_expand_channels, space.feature_mix_channels, space.head_act
    blocks = [
        LutBlock(f"Conv_1-input:{_hwc(size, last_channels)}-output:{_hwc(size, fe)}", "final_expand", r, size,
                 last_channels, size, fe, act=act),
        LutBlock(f"AvgPool2D-input:{_hwc(size, fe)}-output:{_hwc(1, fe)}", "pool", r, size, fe, 1, fe, act="none"),
    ]
    if fm:  # MobileNetV3's conv after pooling (ProxylessNAS has none)
        blocks.append(LutBlock(f"Conv_2-input:{_hwc(1, fe)}-output:{_hwc(1, fm)}", "feature_mix", r, 1, fe, 1, fm, act=act))
    c = space.classifier_in_channels
    return [*blocks, LutBlock(f"Logits-input:{_hwc(1, c)}-output:{num_classes}", "classifier", r, 1, c, 1, num_classes,
                              act="none")]


def fixed_blocks(space: SearchSpace, r: int, num_classes: int) -> list[LutBlock]:
    """Blocks every sub-network at resolution ``r`` runs: stem, first block, head."""
    stem = stem_block(space, r)
    first = first_block_spec(space, stem.out_size)
    size = first.out_size
    for stage in space.stages:  # the head's input size does not depend on k/e/d
        size = conv_out(size, stage.stride)
    return [stem, mbconv_block(first, r), *head_blocks(space, r, size, space.stage_channels[-1], num_classes)]


def slot_blocks(space: SearchSpace, r: int) -> dict[tuple[int, int, int], LutBlock]:
    """``(slot, k, e) -> block`` for every elastic slot (0-based, as in ``cfg.ks``) at resolution ``r``."""
    stem = stem_block(space, r)
    first = first_block_spec(space, stem.out_size)
    size, channels, out = first.out_size, first.out_channels, {}
    for stage_idx in range(space.n_stages):
        for pos in range(space.max_depth):
            slot0 = stage_idx * space.max_depth + pos
            block_in = channels if pos == 0 else space.stage_channels[stage_idx]
            block_size = size
            for k in space.ks_choices:
                for e in space.e_choices:
                    if not space.slot_exists(slot0):  # never runs (masked): reuse the stage's first block, no new key
                        out[(slot0, k, e)] = out[(stage_idx * space.max_depth, k, e)]
                        continue
                    spec = stage_block_spec(space, slot0 + 1, block_in, k, e, block_size)
                    out[(slot0, k, e)] = mbconv_block(spec, r)
            if pos == 0:
                size = conv_out(size, space.stages[stage_idx].stride)
        channels = space.stage_channels[stage_idx]
    return out


def enumerate_blocks(space: SearchSpace, resolutions: "list[int] | tuple[int, ...]", num_classes: int = 1000) -> list[LutBlock]:
    """Every distinct block of ``space`` at each resolution, identified by ``(resolution, key)``.

    Keys like the classifier's repeat at every resolution on purpose: OFA's tables time them per
    resolution too, and the predictors look blocks up by ``(resolution, key)``. (Either family's blocks:
    :func:`latency.resnet_blocks.space_blocks`.)
    """
    found: dict[tuple[int, str], LutBlock] = {}
    for r in resolutions:
        for block in [*fixed_blocks(space, r, num_classes), *slot_blocks(space, r).values()]:
            found.setdefault(block.ident, block)
    return list(found.values())


def network_block_keys(space: SearchSpace, cfg: SubnetConfig, num_classes: int = 1000) -> list[str]:
    """Keys of the blocks a sub-network runs, in order (the slow, obvious path; see latency.index)."""
    spec = net_spec(space, cfg)
    keys = [stem_block(space, cfg.r).key] + [mbconv_key(b) for b in spec.blocks]
    return keys + [b.key for b in head_blocks(space, cfg.r, spec.head_size, spec.last_channels, num_classes)]
