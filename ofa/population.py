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
    """(N, slots) boolean: slot i of stage s runs iff its position < d[s] (and < the stage's cap)."""
    runs, caps = _mask_parts(tuple(space.d_choices), tuple(st.max_blocks for st in space.stages))
    mask = runs[d_idx].reshape(len(d_idx), -1)
    if caps is not None:  # a capped stage (ProxylessNAS's last): its extra slots never run
        mask &= caps
    return mask


@lru_cache(maxsize=32)
def _mask_parts(d_choices: tuple[int, ...], max_blocks: tuple) -> tuple[np.ndarray, "np.ndarray | None"]:
    """The lookups behind :func:`active_mask`, per (depth choices, stage caps), so a mask costs one gather (the
    search builds thousands): row j of ``runs`` says which of a stage's slots run at depth ``d_choices[j]``;
    ``caps`` (1, slots) which slots exist at all (None when no stage is capped)."""
    max_depth = max(d_choices)
    runs = np.arange(max_depth)[None, :] < np.asarray(d_choices)[:, None]
    runs.setflags(write=False)
    limits = [min(m or max_depth, max_depth) for m in max_blocks]
    if min(limits) == max_depth:
        return runs, None
    caps = (np.arange(max_depth)[None, :] < np.asarray(limits)[:, None]).reshape(1, -1)
    caps.setflags(write=False)
    return runs, caps
