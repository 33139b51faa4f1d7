"""Small fixed layers shared by the supernet and static sub-networks."""

from __future__ import annotations

import torch
from torch import nn

from ofa.errors import ConfigError


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        return nn.ReLU()
    if name == "relu6":
        return nn.ReLU6()
    if name == "h_swish":
        return nn.Hardswish()
    raise ConfigError(f"unknown activation {name!r}; valid: relu, relu6, h_swish")


class ConvBNAct(nn.Module):
    """conv -> (BN) -> activation, with 'same' padding."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 1, stride: int = 1, act: str = "relu",
                 use_bn: bool = True, bn_eps: float = 1e-5, bn_momentum: float = 0.1):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=bn_eps, momentum=bn_momentum) if use_bn else None
        self.act = make_activation(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


class SqueezeExcite(nn.Module):
    """Squeeze-excite with a ReLU bottleneck and hard-sigmoid gate (MobileNetV3 style)."""

    def __init__(self, channels: int, mid: int):
        super().__init__()
        self.reduce = nn.Conv2d(channels, mid, 1, bias=True)
        self.expand = nn.Conv2d(mid, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean((2, 3), keepdim=True)
        y = torch.relu(self.reduce(y))
        return x * nn.functional.hardsigmoid(self.expand(y))


def init_weights(module: nn.Module) -> None:
    """He (fan-out) init for convs, unit BN, small-normal classifier: the MobileNet defaults."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d) or (hasattr(m, "weight") and getattr(m, "is_elastic_conv", False)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def feature_mix_layer(in_ch: int, out_ch: int | None, act: str) -> "ConvBNAct | None":
    """The 1x1 conv after pooling (MobileNetV3: no BN), or ``None`` where the space has none (ProxylessNAS)."""
    return ConvBNAct(in_ch, out_ch, 1, act=act, use_bn=False) if out_ch else None


def run_head(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """final_expand -> global pool -> (feature_mix) -> dropout -> classifier, on ``net``'s head layers."""
    x = net.final_expand(x).mean((2, 3), keepdim=True)
    if net.feature_mix is not None:
        x = net.feature_mix(x)
    return net.classifier(net.dropout(torch.flatten(x, 1)))
