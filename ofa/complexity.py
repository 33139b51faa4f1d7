"""Analytic cost of a sub-network: multiply-accumulates (MACs, what OFA calls FLOPs) and parameters.

Counted from the :class:`~ofa.arch.NetSpec` alone (no module built), so search can score whole
populations quickly. MACs count convolutions and the classifier (BN, activations, pooling and
residual adds are not counted, as in OFA). Parameters count every weight, BN affine included.
"""

from __future__ import annotations

from dataclasses import dataclass

from ofa.arch import BlockSpec, NetSpec, conv_out, net_spec
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


@dataclass(frozen=True)
class Complexity:
    macs: int
    params: int

    @property
    def mflops(self) -> float:  # OFA reports MACs as "FLOPs"; we keep its convention in this name
        return self.macs / 1e6

    @property
    def params_m(self) -> float:
        return self.params / 1e6


def _conv(cin: int, cout: int, k: int, out_size: int, groups: int = 1, bias: bool = False) -> tuple[int, int]:
    params = cout * (cin // groups) * k * k + (cout if bias else 0)
    return params * out_size * out_size - (cout * out_size * out_size if bias else 0), params


def block_cost(b: BlockSpec) -> tuple[int, int]:
    """(MACs, params) of one MBConv block."""
    macs = params = 0
    if b.expand > 1:
        m, p = _conv(b.in_channels, b.mid_channels, 1, b.in_size)
        macs, params = macs + m, params + p + 2 * b.mid_channels
    m, p = _conv(b.mid_channels, b.mid_channels, b.kernel, b.out_size, groups=b.mid_channels)
    macs, params = macs + m, params + p + 2 * b.mid_channels
    if b.se_channels:
        m1, p1 = _conv(b.mid_channels, b.se_channels, 1, 1, bias=True)
        m2, p2 = _conv(b.se_channels, b.mid_channels, 1, 1, bias=True)
        macs, params = macs + m1 + m2, params + p1 + p2
    m, p = _conv(b.mid_channels, b.out_channels, 1, b.out_size)
    return macs + m, params + p + 2 * b.out_channels


def spec_cost(spec: NetSpec, num_classes: int) -> Complexity:
    stem_size = conv_out(spec.resolution, spec.stem_stride)
    macs, params = _conv(3, spec.stem_channels, 3, stem_size)
    params += 2 * spec.stem_channels
    for block in spec.blocks:
        m, p = block_cost(block)
        macs, params = macs + m, params + p
    m, p = _conv(spec.last_channels, spec.final_expand_channels, 1, spec.head_size)
    macs, params = macs + m, params + p + 2 * spec.final_expand_channels
    if spec.feature_mix_channels:
        m, p = _conv(spec.final_expand_channels, spec.feature_mix_channels, 1, 1)
        macs, params = macs + m, params + p
    macs += spec.classifier_in_channels * num_classes
    params += spec.classifier_in_channels * num_classes + num_classes
    return Complexity(macs=macs, params=params)


def subnet_cost(space: SearchSpace, cfg: SubnetConfig, num_classes: int) -> Complexity:
    """MACs and parameters of the sub-network ``cfg`` at resolution ``cfg.r``."""
    return spec_cost(net_spec(space, cfg), num_classes)
