"""What the trainer needs to know about a family of supernets, behind one small interface.

The loop, validation and checkpoints are the same for every family; only these differ: which space a
config names, how a stage's choices are checked, which sub-networks a step trains (the largest, the
smallest and random ones), the reference sub-networks, their cost, the modules a stage freezes, the
network classes and the artifact writer. :class:`MobileFamily` covers MobileNetV3/ProxylessNAS
(:class:`~ofa.spaces.SearchSpace`); :class:`~ofa.train.resnet_family.ResNetFamily` covers OFA-ResNet.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

from torch import nn

from ofa.errors import ConfigError


class TrainFamily(Protocol):
    space: Any

    def build(self, num_classes: int, dropout: float) -> nn.Module: ...
    def static(self, cfg, num_classes: int, dropout: float) -> nn.Module: ...
    def largest(self): ...
    def smallest(self): ...
    def sample(self, rng: random.Random): ...
    def stage_subnets(self, stage, rngs, r: int) -> list: ...
    def expand_stage(self, stage) -> None: ...
    def cost_mflops(self, cfg, num_classes: int) -> float: ...
    def arch(self, cfg) -> str: ...
    def frozen_modules(self, net: nn.Module, n_stages: int) -> list[nn.Module]: ...
    def save(self, net: nn.Module, out, info): ...


class MobileFamily:
    """MobileNetV3 / ProxylessNAS supernets (:class:`~ofa.nn.supernet.OFASupernet`)."""

    def __init__(self, space):
        self.space = space

    def build(self, num_classes: int, dropout: float) -> nn.Module:
        from ofa.nn.supernet import OFASupernet

        return OFASupernet(self.space, num_classes, dropout)

    def static(self, cfg, num_classes: int, dropout: float) -> nn.Module:
        from ofa.nn.static import StaticSubnet

        return StaticSubnet(self.space, cfg, num_classes, dropout)

    def largest(self):
        from ofa.subnet import SubnetConfig

        return SubnetConfig.largest(self.space)

    def smallest(self):
        from ofa.subnet import SubnetConfig

        return SubnetConfig.smallest(self.space)

    def sample(self, rng: random.Random):
        from ofa.subnet import SubnetConfig

        return SubnetConfig.sample(self.space, rng)

    def stage_subnets(self, stage, rngs, r: int) -> list:
        """``rngs``: one seeded ``random.Random`` per sub-network of the step; sandwich: the first two are the largest and smallest."""
        from ofa.subnet import SubnetConfig

        space, configs = self.space, []
        for j, rng in enumerate(rngs):
            if stage.sandwich and j < 2:
                pick = max if j == 0 else min
                configs.append(SubnetConfig(space.id, (pick(stage.ks),) * space.n_block_slots,
                                            (pick(stage.e),) * space.n_block_slots, (pick(stage.d),) * space.n_stages, r))
            else:
                configs.append(SubnetConfig.sample(space, rng, ks=stage.ks, e=stage.e, d=stage.d, r=[r]))
        return configs

    def expand_stage(self, stage) -> None:
        from ofa.train.choices import expand_choice

        space = self.space
        if stage.w is not None:
            raise ConfigError(f"schedule stage {stage.name!r}: w (width multipliers) is an OFA-ResNet dimension; space "
                              f"{space.id} has none; drop w (the transfer-resnet preset needs an OFA-ResNet --init)")
        if isinstance(stage.e, list):  # ``e`` also admits fractions (OFA-ResNet); here 3.0 means 3, as before
            stage.e = [int(v) if float(v).is_integer() else v for v in stage.e]
        for dim, choices in (("ks", space.ks_choices), ("e", space.e_choices), ("d", space.d_choices), ("r", space.resolutions)):
            setattr(stage, dim, expand_choice(stage.name, dim, getattr(stage, dim), list(choices), space.id))

    def cost_mflops(self, cfg, num_classes: int) -> float:
        from ofa.complexity import subnet_cost

        return subnet_cost(self.space, cfg, num_classes).mflops

    def arch(self, cfg) -> str:
        return cfg.arch_string(self.space)

    def frozen_modules(self, net: nn.Module, n_stages: int) -> list[nn.Module]:
        """The stem, the fixed first block and the blocks of the first ``n_stages`` elastic stages."""
        if n_stages <= 0:
            return []
        if n_stages > self.space.n_stages:
            raise ConfigError(f"freeze_stages={n_stages} but space {self.space.id} has {self.space.n_stages} elastic stages")
        return [net.stem, net.blocks[0], *net.stage_blocks(range(n_stages))]

    def save(self, net: nn.Module, out, info):
        from ofa.artifacts import save_supernet

        return save_supernet(net, out, info)


def family_for(space) -> TrainFamily:
    """The family of a resolved space object (a ``SearchSpace`` or a ``ResNetSpace``)."""
    from ofa.spaces.resnet import ResNetSpace

    if isinstance(space, ResNetSpace):
        from ofa.train.resnet_family import ResNetFamily

        return ResNetFamily(space)
    return MobileFamily(space)


def n_stages(space) -> int:
    """Elastic stages a ``freeze_stages`` may name."""
    from ofa.spaces.resnet import ResNetSpace

    return len(space.base_depths) if isinstance(space, ResNetSpace) else space.n_stages


def train_space(space: str, init: "str | None"):
    """The space a config trains: an OFA-ResNet init supernet's own (from its manifest or checkpoint), else
    :func:`ofa.spaces.get_space` of ``space``."""
    if init:
        from ofa.train.transfer import resnet_init_space

        resnet = resnet_init_space(init, space)
        if resnet is not None:
            return resnet
    from ofa.resnet_artifacts import RESNET_SPACES
    from ofa.spaces import get_space

    if space in RESNET_SPACES:
        raise ConfigError(f"space {space} (OFA-ResNet) trains from a supernet only: pass --init with an OFA-ResNet "
                          "supernet directory (`ofa import-official`) or an official OFA-ResNet checkpoint")
    return get_space(space)
