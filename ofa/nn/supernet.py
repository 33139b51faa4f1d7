"""The elastic OFA supernet of a :class:`~ofa.spaces.SearchSpace`, and extraction of its static sub-networks."""

from __future__ import annotations

import random

import torch
from torch import nn

from ofa.arch import supernet_block_specs
from ofa.errors import ConfigError
from ofa.nn.layers import ConvBNAct, feature_mix_layer, init_weights, run_head
from ofa.nn.mbconv import ElasticMBConv
from ofa.nn.static import StaticSubnet
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


class OFASupernet(nn.Module):
    """All sub-networks of a space in one set of weights.

    ``set_active(cfg)`` selects a sub-network (kernel, expand, depth); the input tensor's size is
    the resolution. ``forward`` then runs exactly that sub-network.
    """

    def __init__(self, space: SearchSpace, num_classes: int, dropout: float = 0.0):
        super().__init__()
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        self.space, self.num_classes, self.dropout_rate = space, num_classes, dropout
        bn = dict(bn_eps=space.bn_eps, bn_momentum=space.bn_momentum)
        self.stem = ConvBNAct(3, space.stem_channels, 3, space.stem.stride, space.stem.act, **bn)
        blocks = []
        for spec in supernet_block_specs(space):
            first = spec.slot == 0
            blocks.append(ElasticMBConv(
                spec.in_channels, spec.out_channels,
                kernel_choices=(3,) if first else space.ks_choices,
                expand_choices=(1,) if first else space.e_choices,
                stride=spec.stride, act=spec.act, se=spec.se_channels > 0,
                divisor=space.channel_divisor, se_reduction=space.se_reduction, **bn,
            ))
        self.blocks = nn.ModuleList(blocks)
        #: 0-based elastic slot -> index into ``blocks`` (a capped stage has fewer blocks than slots)
        self.block_of_slot = {spec.slot - 1: i for i, spec in enumerate(supernet_block_specs(space)) if spec.slot > 0}
        last = space.stage_channels[-1]
        self.final_expand = ConvBNAct(last, space.final_expand_channels, 1, act=space.head_act, **bn)
        self.feature_mix = feature_mix_layer(space.final_expand_channels, space.feature_mix_channels, space.head_act)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(space.classifier_in_channels, num_classes)
        init_weights(self)
        self.active_depths = [space.max_depth] * space.n_stages
        self.active_resolution = max(space.resolutions)

    # ----- selecting sub-networks -------------------------------------------------------------------
    def set_active(self, cfg: SubnetConfig) -> None:
        cfg.validate(self.space)
        for slot, index in self.block_of_slot.items():
            self.blocks[index].active_kernel, self.blocks[index].active_expand = cfg.ks[slot], cfg.e[slot]
        self.active_depths = list(cfg.d)
        self.active_resolution = cfg.r

    def active_config(self) -> SubnetConfig:
        space, slots = self.space, range(self.space.n_block_slots)
        ks = tuple(self.blocks[self.block_of_slot[i]].active_kernel if i in self.block_of_slot else min(space.ks_choices) for i in slots)
        e = tuple(self.blocks[self.block_of_slot[i]].active_expand if i in self.block_of_slot else min(space.e_choices) for i in slots)
        return SubnetConfig(space.id, ks, e, tuple(self.active_depths), self.active_resolution)

    def sample_active(self, rng: "random.Random | int | None" = None, **limits) -> SubnetConfig:
        cfg = SubnetConfig.sample(self.space, rng, **limits)
        self.set_active(cfg)
        return cfg

    def stage_blocks(self, stages) -> list[ElasticMBConv]:
        """Every block (active or not) of the elastic stages ``stages``."""
        d = self.space.max_depth
        return [self.blocks[self.block_of_slot[s * d + i]] for s in stages for i in range(self.space.depth_caps[s])]

    def active_blocks(self) -> list[ElasticMBConv]:
        cfg = SubnetConfig(self.space.id, (), (), tuple(self.active_depths), 0)
        return [self.blocks[0]] + [self.blocks[self.block_of_slot[slot]] for slot in cfg.active_slots(self.space)]

    # ----- running ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.active_blocks():
            x = block(x)
        return run_head(self, x)

    def reorganize_channels(self) -> None:
        """Importance-sort hidden channels of every block (before shrinking the expand ratio)."""
        for block in self.blocks[1:]:
            block.reorganize_channels()

    def extract(self, cfg: SubnetConfig) -> nn.Module:
        """The static sub-network for ``cfg`` with weights copied (see :func:`extract_subnet`)."""
        return extract_subnet(self, cfg)


# ----- extraction: the static ``nn.Module`` of a sub-network, weights copied -------------------------
def static_state_dict(supernet: OFASupernet, cfg: SubnetConfig) -> dict[str, torch.Tensor]:
    """The state dict of ``StaticSubnet(space, cfg)``, sliced (and kernel-transformed) from the supernet."""
    cfg.validate(supernet.space)
    state: dict[str, torch.Tensor] = {}
    fixed = {k: v for k, v in supernet.state_dict().items() if not k.startswith("blocks.")}
    state.update(fixed)
    slots = [0] + [slot + 1 for slot in cfg.active_slots(supernet.space)]
    for index, slot in enumerate(slots):
        block = supernet.blocks[0 if slot == 0 else supernet.block_of_slot[slot - 1]]
        kernel = 3 if slot == 0 else cfg.ks[slot - 1]
        expand = 1 if slot == 0 else cfg.e[slot - 1]
        for name, tensor in block.static_state(kernel, expand).items():
            state[f"blocks.{index}.{name}"] = tensor
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


@torch.no_grad()
def extract_subnet(supernet: OFASupernet, cfg: SubnetConfig) -> StaticSubnet:
    """Build the static network of ``cfg`` and copy its weights from ``supernet`` (eval mode)."""
    net = StaticSubnet(supernet.space, cfg, supernet.num_classes, supernet.dropout_rate)
    net.load_state_dict(static_state_dict(supernet, cfg), strict=True)
    return net.eval()
