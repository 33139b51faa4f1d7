"""Elastic ops: layers holding the largest weights and running any smaller active slice.

* :class:`ElasticDepthwiseConv` — elastic kernel: the centre crop of the largest kernel, passed
  through learned transform matrices (7->5, 5->3) as OFA does.
* :class:`ElasticPointwiseConv` — elastic channels: the first ``in``/``out`` channels of a 1x1 conv.
* :class:`ElasticBatchNorm` — BN over the first ``C`` channels (statistics updated in place).
* :class:`ElasticSE` — squeeze-excite whose bottleneck follows the active channel count.

Each op also returns the static tensors of a slice (``static_*``), which is all extraction needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ofa.spaces import make_divisible


def centre_crop(weight: torch.Tensor, size: int) -> torch.Tensor:
    """Centre ``size x size`` window of a ``(..., K, K)`` kernel."""
    k = weight.shape[-1]
    start = (k - size) // 2
    return weight[..., start : start + size, start : start + size]


class ElasticPointwiseConv(nn.Module):
    is_elastic_conv = True

    def __init__(self, max_in: int, max_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(max_out, max_in, 1, 1))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")

    def static_weight(self, in_ch: int, out_ch: int) -> torch.Tensor:
        return self.weight[:out_ch, :in_ch]

    def forward(self, x: torch.Tensor, out_ch: int) -> torch.Tensor:
        return F.conv2d(x, self.static_weight(x.shape[1], out_ch))


class ElasticDepthwiseConv(nn.Module):
    is_elastic_conv = True

    def __init__(self, channels: int, kernel_choices: tuple[int, ...], stride: int = 1):
        super().__init__()
        self.kernel_choices = tuple(sorted(kernel_choices))
        self.stride = stride
        k_max = self.kernel_choices[-1]
        self.weight = nn.Parameter(torch.empty(channels, 1, k_max, k_max))
        nn.init.kaiming_normal_(self.weight, mode="fan_out")
        # One learned (k*k x k*k) matrix per step down, initialised to the identity (= plain crop).
        self.kernel_transforms = nn.ParameterDict(
            {f"{big}to{small}": nn.Parameter(torch.eye(small * small))
             for small, big in zip(self.kernel_choices, self.kernel_choices[1:])}
        )

    def static_weight(self, channels: int, kernel: int) -> torch.Tensor:
        """The effective ``(channels, 1, kernel, kernel)`` depthwise kernel for ``kernel``."""
        weight = self.weight[:channels]
        size = self.kernel_choices[-1]
        for small in reversed(self.kernel_choices[:-1]):
            if small < kernel:
                break
            cropped = centre_crop(weight, small).reshape(-1, small * small)
            matrix = self.kernel_transforms[f"{size}to{small}"]
            weight = (cropped @ matrix.t()).reshape(channels, 1, small, small)
            size = small
        return weight

    def forward(self, x: torch.Tensor, kernel: int) -> torch.Tensor:
        channels = x.shape[1]
        weight = self.static_weight(channels, kernel)
        return F.conv2d(x, weight, None, self.stride, kernel // 2, 1, channels)


class ElasticBatchNorm(nn.BatchNorm2d):
    """BatchNorm over the first ``C`` channels of its largest width (``C`` = input channels)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        if channels == self.num_features:
            return super().forward(x)
        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        return F.batch_norm(
            x,
            self.running_mean[:channels],
            self.running_var[:channels],
            self.weight[:channels],
            self.bias[:channels],
            self.training or not self.track_running_stats,
            factor,
            self.eps,
        )

    def static_state(self, channels: int) -> dict[str, torch.Tensor]:
        return {
            "weight": self.weight[:channels],
            "bias": self.bias[:channels],
            "running_mean": self.running_mean[:channels],
            "running_var": self.running_var[:channels],
            "num_batches_tracked": self.num_batches_tracked,
        }


class ElasticSE(nn.Module):
    def __init__(self, max_channels: int, reduction: int = 4, divisor: int = 8):
        super().__init__()
        self.reduction, self.divisor = reduction, divisor
        mid = self.mid_channels(max_channels)
        self.reduce = nn.Conv2d(max_channels, mid, 1, bias=True)
        self.expand = nn.Conv2d(mid, max_channels, 1, bias=True)

    def mid_channels(self, channels: int) -> int:
        return make_divisible(channels // self.reduction, self.divisor)

    def static_state(self, channels: int) -> dict[str, torch.Tensor]:
        mid = self.mid_channels(channels)
        return {
            "reduce.weight": self.reduce.weight[:mid, :channels],
            "reduce.bias": self.reduce.bias[:mid],
            "expand.weight": self.expand.weight[:channels, :mid],
            "expand.bias": self.expand.bias[:channels],
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state = self.static_state(x.shape[1])
        y = x.mean((2, 3), keepdim=True)
        y = torch.relu(F.conv2d(y, state["reduce.weight"], state["reduce.bias"]))
        y = F.hardsigmoid(F.conv2d(y, state["expand.weight"], state["expand.bias"]))
        return x * y
