"""The MBConv block in its elastic (supernet) and static (sub-network) forms.

Both forms use the same attribute names (``expand_conv``, ``expand_bn``, ``dw_conv``, ``dw_bn``,
``se``, ``project_conv``, ``project_bn``), so extraction is a per-tensor slice.
"""

from __future__ import annotations

import torch
from torch import nn

from ofa.arch import BlockSpec
from ofa.nn.elastic import ElasticBatchNorm, ElasticDepthwiseConv, ElasticPointwiseConv, ElasticSE
from ofa.nn.layers import SqueezeExcite, make_activation
from ofa.spaces import make_divisible


class ElasticMBConv(nn.Module):
    """Inverted-residual block with elastic kernel and expand ratio (fixed in/out channels)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_choices: tuple[int, ...], expand_choices: tuple[int, ...],
                 stride: int, act: str, se: bool, divisor: int = 8, se_reduction: int = 4,
                 bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        super().__init__()
        self.in_ch, self.out_ch, self.stride, self.divisor = in_ch, out_ch, stride, divisor
        self.kernel_choices, self.expand_choices = tuple(sorted(kernel_choices)), tuple(sorted(expand_choices))
        mid_max = self.mid_channels(max(expand_choices))
        bn = dict(eps=bn_eps, momentum=bn_momentum)
        if max(expand_choices) > 1:
            self.expand_conv = ElasticPointwiseConv(in_ch, mid_max)
            self.expand_bn = ElasticBatchNorm(mid_max, **bn)
        else:
            self.expand_conv = self.expand_bn = None
        self.dw_conv = ElasticDepthwiseConv(mid_max, kernel_choices, stride)
        self.dw_bn = ElasticBatchNorm(mid_max, **bn)
        self.se = ElasticSE(mid_max, se_reduction, divisor) if se else None
        self.project_conv = ElasticPointwiseConv(mid_max, out_ch)
        self.project_bn = ElasticBatchNorm(out_ch, **bn)
        self.act = make_activation(act)
        self.residual = stride == 1 and in_ch == out_ch
        self.active_kernel = max(kernel_choices)
        self.active_expand = max(expand_choices)

    def mid_channels(self, expand: int) -> int:
        return make_divisible(round(self.in_ch * expand), self.divisor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.expand_conv is not None:
            h = self.act(self.expand_bn(self.expand_conv(h, self.mid_channels(self.active_expand))))
        h = self.act(self.dw_bn(self.dw_conv(h, self.active_kernel)))
        if self.se is not None:
            h = self.se(h)
        h = self.project_bn(self.project_conv(h, self.out_ch))
        return h + x if self.residual else h

    def static_state(self, kernel: int, expand: int) -> dict[str, torch.Tensor]:
        """Tensors of the static block for (kernel, expand), keyed like :class:`MBConv`'s state."""
        mid = self.mid_channels(expand)
        state: dict[str, torch.Tensor] = {}
        if self.expand_conv is not None:
            state["expand_conv.weight"] = self.expand_conv.static_weight(self.in_ch, mid)
            state |= {f"expand_bn.{k}": v for k, v in self.expand_bn.static_state(mid).items()}
        state["dw_conv.weight"] = self.dw_conv.static_weight(mid, kernel)
        state |= {f"dw_bn.{k}": v for k, v in self.dw_bn.static_state(mid).items()}
        if self.se is not None:
            state |= {f"se.{k}": v for k, v in self.se.static_state(mid).items()}
        state["project_conv.weight"] = self.project_conv.static_weight(mid, self.out_ch)
        state |= {f"project_bn.{k}": v for k, v in self.project_bn.static_state(self.out_ch).items()}
        return state

    @torch.no_grad()
    def reorganize_channels(self) -> None:
        """Sort hidden channels by importance (L1 of the projection weights), most important first.

        Run before shrinking the expand ratio, so the channels every smaller ratio keeps are the
        important ones. The block's function is unchanged (a permutation of hidden channels).
        """
        if self.expand_conv is None:
            return
        importance = self.project_conv.weight.abs().sum(dim=(0, 2, 3))
        order = torch.argsort(importance, descending=True)
        if self.se is not None:
            self._reorganize_se()
            # SE expand rows follow the hidden channels
            self.se.expand.weight.copy_(self.se.expand.weight[order])
            self.se.expand.bias.copy_(self.se.expand.bias[order])
            self.se.reduce.weight.copy_(self.se.reduce.weight[:, order])
        self.project_conv.weight.copy_(self.project_conv.weight[:, order])
        for bn in (self.expand_bn, self.dw_bn):
            for name in ("weight", "bias", "running_mean", "running_var"):
                tensor = getattr(bn, name)
                tensor.copy_(tensor[order])
        self.dw_conv.weight.copy_(self.dw_conv.weight[order])
        self.expand_conv.weight.copy_(self.expand_conv.weight[order])

    def _reorganize_se(self) -> None:
        importance = self.se.expand.weight.abs().sum(dim=(0, 2, 3))
        order = torch.argsort(importance, descending=True)
        self.se.expand.weight.copy_(self.se.expand.weight[:, order])
        self.se.reduce.weight.copy_(self.se.reduce.weight[order])
        self.se.reduce.bias.copy_(self.se.reduce.bias[order])


class MBConv(nn.Module):
    """Static inverted-residual block built from a :class:`~ofa.arch.BlockSpec`."""

    def __init__(self, spec: BlockSpec, bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        super().__init__()
        mid, bn = spec.mid_channels, dict(eps=bn_eps, momentum=bn_momentum)
        if spec.expand > 1:
            self.expand_conv = nn.Conv2d(spec.in_channels, mid, 1, bias=False)
            self.expand_bn = nn.BatchNorm2d(mid, **bn)
        else:
            self.expand_conv = self.expand_bn = None
        self.dw_conv = nn.Conv2d(mid, mid, spec.kernel, spec.stride, spec.kernel // 2, groups=mid, bias=False)
        self.dw_bn = nn.BatchNorm2d(mid, **bn)
        self.se = SqueezeExcite(mid, spec.se_channels) if spec.se_channels else None
        self.project_conv = nn.Conv2d(mid, spec.out_channels, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(spec.out_channels, **bn)
        self.act = make_activation(spec.act)
        self.residual = spec.residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.expand_conv is not None:
            h = self.act(self.expand_bn(self.expand_conv(h)))
        h = self.act(self.dw_bn(self.dw_conv(h)))
        if self.se is not None:
            h = self.se(h)
        h = self.project_bn(self.project_conv(h))
        return h + x if self.residual else h
