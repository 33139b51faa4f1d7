"""Populations of sub-networks as integer arrays of *choice indices*: the one encoding of configs.

Search, cost tables and latency predictors all take this type (``Population.from_configs`` or the
search operators in :mod:`ofa.search.population` make one).

A population of N configs is four arrays: ``ks`` (N, slots), ``e`` (N, slots), ``d`` (N, stages)
and ``r`` (N,), each holding indices into the space's sorted choice lists. :meth:`Population.configs` turns rows back into
:class:`~ofa.subnet.SubnetConfig` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


@dataclass
class Population:
    ks: np.ndarray
    e: np.ndarray
    d: np.ndarray
    r: np.ndarray

    def __len__(self) -> int:
        return len(self.r)

    def take(self, index) -> "Population":
        return Population(self.ks[index], self.e[index], self.d[index], self.r[index])

    @staticmethod
    def concat(parts: list["Population"]) -> "Population":
        return Population(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("ks", "e", "d", "r")))

    def key_rows(self, space: SearchSpace) -> np.ndarray:
        """One row per config, unused slots zeroed: equal rows = same architecture."""
        mask = active_mask(space, self.d)
        return np.concatenate([self.ks * mask, self.e * mask, self.d, self.r[:, None]], axis=1)

    def configs(self, space: SearchSpace) -> list[SubnetConfig]:
        ks, e, d, r = (np.asarray(c) for c in (space.ks_choices, space.e_choices, space.d_choices, space.resolutions))
        return [SubnetConfig(space.id, tuple(int(v) for v in ks[self.ks[i]]), tuple(int(v) for v in e[self.e[i]]),
                             tuple(int(v) for v in d[self.d[i]]), int(r[self.r[i]])) for i in range(len(self))]

    @classmethod
    def from_configs(cls, space: SearchSpace, configs: list[SubnetConfig]) -> "Population":
        def index(values, choices):
            lookup = {c: i for i, c in enumerate(choices)}
            return np.array([[lookup[v] for v in row] for row in values], dtype=np.int64)

        return cls(index([c.ks for c in configs], space.ks_choices), index([c.e for c in configs], space.e_choices),
                   index([c.d for c in configs], space.d_choices), index([[c.r] for c in configs], space.resolutions)[:, 0])


def active_mask(space: SearchSpace, d_idx: np.ndarray) -> np.ndarray:
    """(N, slots) boolean: slot i of stage s runs iff its position < d[s]."""
    runs = _runs_by_depth(tuple(space.d_choices), space.max_depth)  # (depth choices, max_depth)
    mask = runs[d_idx].reshape(len(d_idx), space.n_block_slots)
    if min(space.depth_caps) < space.max_depth:  # a capped stage (ProxylessNAS's last): its extra slots never run
        mask &= space.active_mask(np.full((1, space.n_stages), space.max_depth))
    return mask


@lru_cache(maxsize=32)
def _runs_by_depth(d_choices: tuple[int, ...], max_depth: int) -> np.ndarray:
    """Row j: which of a stage's slots run at depth ``d_choices[j]`` (a lookup, so masks cost one gather)."""
    runs = np.arange(max_depth)[None, :] < np.asarray(d_choices)[:, None]
    runs.setflags(write=False)
    return runs
