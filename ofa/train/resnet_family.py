"""Training an OFA-ResNet supernet: its stage choices and sub-network sampling (see :mod:`ofa.train.family`).

A stage's elastic dimensions are ``d`` (extra blocks per stage, 0/1/2; the stem's entry too, so a smaller
stem ``d`` skips the stem's residual conv), ``e`` (the bottleneck expand ratios, e.g. 0.2/0.25/0.35), ``w``
(width *multipliers*, e.g. 0.65/0.8/1.0, for the stem's two convs and every stage; a sub-network config stores
them as indices, as the official selection does) and ``r``. There is no kernel dimension: ``ks`` must stay
``max``. Every entry of a random sub-network is drawn independently from the stage's choices.
"""

from __future__ import annotations

import random

from torch import nn

from ofa.errors import ConfigError
from ofa.spaces.resnet import ResNetConfig, ResNetSpace


class ResNetFamily:
    """OFA-ResNet supernets (:class:`~ofa.nn.resnet.OFAResNet`)."""

    def __init__(self, space: ResNetSpace):
        self.space = space

    def build(self, num_classes: int, dropout: float) -> nn.Module:
        from ofa.nn.resnet import OFAResNet

        return OFAResNet(self.space, num_classes, dropout)

    def static(self, cfg: ResNetConfig, num_classes: int, dropout: float) -> nn.Module:
        from ofa.nn.resnet import StaticResNet

        return StaticResNet(self.space, cfg, num_classes, dropout)

    def largest(self) -> ResNetConfig:
        return ResNetConfig.largest(self.space)

    def smallest(self) -> ResNetConfig:
        return ResNetConfig.smallest(self.space)

    def sample(self, rng: random.Random) -> ResNetConfig:
        return self._draw(rng, self.space.d_choices, self.space.e_choices, self.space.w_choices, rng.choice(self.space.resolutions))

    def stage_subnets(self, stage, rngs, r: int) -> list[ResNetConfig]:
        """The step's sub-networks at resolution ``r``; sandwich: the first two are the stage's largest and smallest."""
        configs = []
        for j, rng in enumerate(rngs):
            if stage.sandwich and j < 2:
                pick = max if j == 0 else min
                configs.append(self._uniform(pick(stage.d), pick(stage.e), pick(stage.w), r))
            else:
                configs.append(self._draw(rng, stage.d, stage.e, stage.w, r))
        return configs

    def _uniform(self, d: int, e: float, w: float, r: int) -> ResNetConfig:
        space, n = self.space, len(self.space.base_depths)
        return ResNetConfig((d,) * (n + 1), (e,) * space.n_blocks, (space.w_choices.index(w),) * (n + 2), r, space.id)

    def _draw(self, rng: random.Random, d, e, w, r: int) -> ResNetConfig:
        space, n = self.space, len(self.space.base_depths)
        widths = [space.w_choices.index(v) for v in w]
        return ResNetConfig(tuple(rng.choice(d) for _ in range(n + 1)), tuple(rng.choice(e) for _ in range(space.n_blocks)),
                            tuple(rng.choice(widths) for _ in range(n + 2)), r, space.id)

    def expand_stage(self, stage) -> None:
        from ofa.train.choices import expand_choice

        space = self.space
        if stage.ks != "max":
            raise ConfigError(f"schedule stage {stage.name!r}: ks={stage.ks!r}, but OFA-ResNet ({space.id}) has no elastic "
                              "kernel size; drop ks (the MobileNetV3 presets set it: for transfer use --preset "
                              "transfer-resnet, the default with an OFA-ResNet --init)")
        if stage.reorganize_channels:
            raise ConfigError(f"schedule stage {stage.name!r}: reorganize_channels is implemented for MobileNetV3/"
                              f"ProxylessNAS blocks only, not OFA-ResNet ({space.id}); set it to false")
        if stage.w is None:
            stage.w = "max"
        for dim, choices in (("e", space.e_choices), ("d", space.d_choices), ("w", space.w_choices), ("r", space.resolutions)):
            setattr(stage, dim, expand_choice(stage.name, dim, getattr(stage, dim), list(choices), space.id))

    def cost_mflops(self, cfg: ResNetConfig, num_classes: int) -> float:
        from ofa.nn.resnet import resnet_cost

        return resnet_cost(self.space, cfg, num_classes).mflops

    def arch(self, cfg: ResNetConfig) -> str:
        return cfg.arch_string(self.space)

    def frozen_modules(self, net: nn.Module, n_stages: int) -> list[nn.Module]:
        """The input stem and the blocks of the first ``n_stages`` stages."""
        if n_stages <= 0:
            return []
        stages = self.space.stage_blocks
        if n_stages > len(stages):
            raise ConfigError(f"freeze_stages={n_stages} but space {self.space.id} has {len(stages)} stages")
        return [net.input_stem, *(net.blocks[slot] for slots in stages[:n_stages] for slot in slots)]

    def save(self, net: nn.Module, out, info):
        from ofa.resnet_artifacts import save_resnet_supernet

        return save_resnet_supernet(net, out, info)
