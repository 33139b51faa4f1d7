"""Populations of OFA-ResNet sub-networks as one integer *gene matrix* of choice indices.

The MobileNetV3 family keeps four arrays (:class:`~ofa.population.Population`); a ResNet config is the
official selection ``d`` (stem + one per stage), ``e`` (one per block slot), ``w`` (width indices: the
stem's two convs, then one per stage) and ``r``, so its population is the single matrix
``d | e | w | r`` (columns in that order), each entry an index into that gene's choice list, with
:func:`choice_counts` giving every column's number of choices. Search operators (sampling, mutation,
crossover) act on such a matrix generically (:mod:`ofa.search.population`); cost tables
(:mod:`ofa.resnet_cost_table`) and the accuracy encoding read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ofa.spaces.resnet import ResNetConfig, ResNetSpace


@dataclass(frozen=True)
class GeneLayout:
    """Column ranges of the gene matrix of a space: ``d`` then ``e`` then ``w`` then ``r``."""

    n_d: int
    n_e: int
    n_w: int

    @property
    def d(self) -> slice:
        return slice(0, self.n_d)

    @property
    def e(self) -> slice:
        return slice(self.n_d, self.n_d + self.n_e)

    @property
    def w(self) -> slice:
        return slice(self.n_d + self.n_e, self.n_d + self.n_e + self.n_w)

    @property
    def width(self) -> int:
        return self.n_d + self.n_e + self.n_w + 1


def layout(space: ResNetSpace) -> GeneLayout:
    n = len(space.base_depths)
    return GeneLayout(1 + n, space.n_blocks, 2 + n)


def choice_counts(space: ResNetSpace) -> np.ndarray:
    """Per gene column, its number of choices (what sampling draws below)."""
    lay = layout(space)
    return np.array([len(space.d_choices)] * lay.n_d + [len(space.e_choices)] * lay.n_e
                    + [len(space.w_choices)] * lay.n_w + [len(space.resolutions)], dtype=np.int64)


@lru_cache(maxsize=16)
def _slot_tables(space: ResNetSpace) -> tuple[np.ndarray, np.ndarray]:
    """``runs`` (stages, D, slots): which slots run at each stage's depth choice; ``stage`` (slots,): each slot's
    stage."""
    stage = np.concatenate([[s] * len(slots) for s, slots in enumerate(space.stage_blocks)])
    pos = np.concatenate([np.arange(len(slots)) for slots in space.stage_blocks])
    runs = np.zeros((len(space.base_depths), len(space.d_choices), space.n_blocks), dtype=bool)
    for s, base in enumerate(space.base_depths):
        for j, d in enumerate(space.d_choices):
            runs[s, j] = (stage == s) & (pos < base + d)
    runs.setflags(write=False)
    return runs, stage


def active_mask(space: ResNetSpace, d_idx: np.ndarray) -> np.ndarray:
    """(N, slots) booleans: which block slots run for the stage depth indices ``d_idx`` (N, 1 + stages)."""
    runs, _ = _slot_tables(space)
    mask = np.zeros((len(d_idx), space.n_blocks), dtype=bool)
    for s in range(len(space.base_depths)):
        mask |= runs[s][d_idx[:, 1 + s]]
    return mask


def stem_residual(space: ResNetSpace, d_idx: np.ndarray) -> np.ndarray:
    """(N,) booleans: whether the stem's residual conv runs (the stem-skipping rule on ``d[0]``)."""
    return np.asarray(space.d_choices)[d_idx[:, 0]] == max(space.d_choices)


@dataclass
class ResNetPopulation:
    genes: np.ndarray  # (N, layout(space).width) int64 choice indices
    space: ResNetSpace

    def __len__(self) -> int:
        return len(self.genes)

    @property
    def r(self) -> np.ndarray:
        return self.genes[:, -1]

    def part(self, name: str) -> np.ndarray:
        return self.genes[:, getattr(layout(self.space), name)]

    def take(self, index) -> "ResNetPopulation":
        return ResNetPopulation(self.genes[index], self.space)

    @staticmethod
    def concat(parts: list["ResNetPopulation"]) -> "ResNetPopulation":
        return ResNetPopulation(np.concatenate([p.genes for p in parts]), parts[0].space)

    def key_rows(self, space: ResNetSpace | None = None) -> np.ndarray:
        """One row per config: equal rows = same network (skipped blocks' ``e`` zeroed, the stem's ``d`` reduced
        to whether its residual conv runs)."""
        space = space or self.space
        rows = self.genes.copy()
        lay = layout(space)
        rows[:, lay.e] *= active_mask(space, rows[:, lay.d])
        rows[:, 0] = stem_residual(space, rows[:, lay.d])
        return rows

    def configs(self, space: ResNetSpace | None = None) -> list[ResNetConfig]:
        space = space or self.space
        lay = layout(space)
        d, e, w, r = (np.asarray(c) for c in (space.d_choices, space.e_choices, range(len(space.w_choices)),
                                              space.resolutions))
        return [ResNetConfig(tuple(int(v) for v in d[row[lay.d]]), tuple(float(v) for v in e[row[lay.e]]),
                             tuple(int(v) for v in w[row[lay.w]]), int(r[row[-1]]), space.id) for row in self.genes]

    @classmethod
    def from_configs(cls, space: ResNetSpace, configs: list[ResNetConfig]) -> "ResNetPopulation":
        def index(values, choices) -> list[int]:
            lookup = {c: i for i, c in enumerate(choices)}
            return [lookup[v] for v in values]

        rows = [index(c.validate(space).d, space.d_choices) + index(c.e, space.e_choices) + list(c.w)
                + index([c.r], space.resolutions) for c in configs]
        return cls(np.array(rows, dtype=np.int64).reshape(len(configs), layout(space).width), space)
