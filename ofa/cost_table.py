"""Additive costs of a space as dense tables: FLOPs, parameters, and LUT latency.

In the OFA-MobileNetV3 family a block's shape is fixed by (resolution, slot, kernel, expand), so any
per-block cost — MACs, parameters, a measured latency — is a table ``block[r, slot, k, e]`` plus a
fixed part ``base[r]`` (stem, first block, head). A population's cost is then a gather and a masked
sum: microseconds for a whole population, which is what makes the search fast.

This is the one additive cost table of the project: FLOPs and parameters are built here, and every latency
predictor exports its mean as one (:meth:`latency.predictors.LatencyPredictor.additive`). Resolutions a
table does not cover hold ``inf`` in ``base`` (see :attr:`AdditiveCost.r_allowed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ofa.arch import BlockSpec, conv_out, first_block_spec, net_spec, stage_block_spec
from ofa.complexity import block_cost, spec_cost
from ofa.population import Population, active_mask
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


@dataclass
class AdditiveCost:
    """``cost(config) = base[r] + sum over active slots of block[r, slot, k, e]``."""

    space: SearchSpace
    base: np.ndarray  # (R,) over the space's resolutions; inf where the cost is not defined
    block: np.ndarray  # (R, slots, K, E)

    def __call__(self, pop: Population) -> np.ndarray:
        _, slots, nk, ne = self.block.shape
        index = (pop.r[:, None] * slots + np.arange(slots)) * (nk * ne) + pop.ks * ne + pop.e  # into block.ravel()
        per_slot = self.block.reshape(-1).take(index)  # (N, slots): one flat gather, not a 4-array fancy index
        return self.base[pop.r] + (per_slot * active_mask(self.space, pop.d)).sum(axis=1)

    def config_cost(self, cfg: SubnetConfig) -> float:
        return float(self(Population.from_configs(self.space, [cfg]))[0])

    @property
    def r_allowed(self) -> np.ndarray:
        """Resolution indices this cost is defined at (a LUT may cover only some)."""
        return np.flatnonzero(np.isfinite(self.base))

    def minimum(self) -> tuple[float, Population]:
        """The exact minimum over the whole space and one config reaching it."""
        space = self.space
        best_k_e = self.block.reshape(*self.block.shape[:2], -1)
        flat = best_k_e.argmin(axis=2)  # (R, slots)
        slot_min = np.take_along_axis(best_k_e, flat[..., None], axis=2)[..., 0]  # (R, slots)
        per_stage = slot_min.reshape(len(space.resolutions), space.n_stages, space.max_depth).cumsum(axis=2)
        last = space.depth_index_table()  # (stages, D): a capped stage stops at its cap
        stage_cost = np.take_along_axis(per_stage, np.broadcast_to(last[None], (len(space.resolutions), *last.shape)), axis=2)
        d_idx = stage_cost.argmin(axis=2)  # (R, stages)
        totals = self.base + np.take_along_axis(stage_cost, d_idx[..., None], axis=2)[..., 0].sum(axis=1)
        r = int(totals.argmin())
        k_idx, e_idx = np.divmod(flat[r], len(space.e_choices))
        pop = Population(k_idx[None, :], e_idx[None, :], d_idx[r][None, :], np.array([r]))
        return float(totals[r]), pop


def _slot_specs(space: SearchSpace, r: int) -> tuple[BlockSpec, list[tuple[int, int]]]:
    """First block spec and (in_channels, in_size) for every stage slot at resolution ``r``."""
    first = first_block_spec(space, conv_out(r, space.stem.stride))
    inputs, channels, size = [], first.out_channels, first.out_size
    for s, stage in enumerate(space.stages):
        for pos in range(space.max_depth):
            inputs.append((channels, size))
            size = conv_out(size, stage.stride) if pos == 0 else size
            channels = space.stage_channels[s]
    return first, inputs


def build_table(space: SearchSpace, block_fn: Callable[[BlockSpec], float],
                base_fn: Callable[[int], float]) -> tuple[np.ndarray, np.ndarray]:
    """Fill ``base[r]`` with ``base_fn(r)`` and ``block[r, slot, k, e]`` with ``block_fn(spec)``."""
    R, S, K, E = len(space.resolutions), space.n_block_slots, len(space.ks_choices), len(space.e_choices)
    base, block = np.zeros(R), np.zeros((R, S, K, E))
    for ri, r in enumerate(space.resolutions):
        base[ri] = base_fn(r)
        _, inputs = _slot_specs(space, r)
        for slot, (channels, size) in enumerate(inputs):
            for ki, k in enumerate(space.ks_choices):
                for ei, e in enumerate(space.e_choices):
                    block[ri, slot, ki, ei] = block_fn(stage_block_spec(space, slot + 1, channels, k, e, size))
    return base, block


def flops_table(space: SearchSpace, num_classes: int) -> AdditiveCost:
    """MACs (in millions) as an additive table; equals :func:`ofa.complexity.subnet_cost`."""
    def base(r: int) -> float:
        smallest = SubnetConfig.smallest(space, r)
        spec = net_spec(space, smallest)
        blocks = sum(block_cost(b)[0] for b in spec.blocks[1:])
        return (spec_cost(spec, num_classes).macs - blocks) / 1e6

    b, blk = build_table(space, lambda spec: block_cost(spec)[0] / 1e6, base)
    return AdditiveCost(space, b, blk)


def params_table(space: SearchSpace, num_classes: int) -> AdditiveCost:
    """Parameters (in millions) as an additive table."""
    def base(r: int) -> float:
        spec = net_spec(space, SubnetConfig.smallest(space, r))
        return (spec_cost(spec, num_classes).params - sum(block_cost(b)[1] for b in spec.blocks[1:])) / 1e6

    b, blk = build_table(space, lambda spec: block_cost(spec)[1] / 1e6, base)
    return AdditiveCost(space, b, blk)
