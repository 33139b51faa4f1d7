"""Static sub-networks: plain ``nn.Module`` built from (space, config) alone, no supernet needed."""

from __future__ import annotations

import torch
from torch import nn

from ofa.arch import net_spec
from ofa.nn.layers import ConvBNAct, feature_mix_layer, init_weights, run_head
from ofa.nn.mbconv import MBConv
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


class StaticSubnet(nn.Module):
    """A fixed MobileNetV3-family network, one of the space's sub-networks.

    Parameter names mirror :class:`~ofa.nn.supernet.OFASupernet` (with ``blocks`` renumbered to the
    active blocks only), so its state dict is a slice of the supernet's.
    """

    def __init__(self, space: SearchSpace, cfg: SubnetConfig, num_classes: int, dropout: float = 0.0):
        super().__init__()
        cfg.validate(space)
        self.space, self.config, self.num_classes = space, cfg, num_classes
        spec = net_spec(space, cfg)
        bn = dict(bn_eps=space.bn_eps, bn_momentum=space.bn_momentum)
        self.stem = ConvBNAct(3, spec.stem_channels, 3, spec.stem_stride, spec.stem_act, **bn)
        self.blocks = nn.ModuleList(MBConv(b, space.bn_eps, space.bn_momentum) for b in spec.blocks)
        self.final_expand = ConvBNAct(spec.last_channels, spec.final_expand_channels, 1, act=spec.head_act, **bn)
        self.feature_mix = feature_mix_layer(spec.final_expand_channels, spec.feature_mix_channels, spec.head_act)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(spec.classifier_in_channels, num_classes)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return run_head(self, x)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.config.r, self.config.r)
