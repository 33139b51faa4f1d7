"""Vectorised look-ups: configs -> per-block values summed in numpy (microseconds per config).

:class:`BlockIndex` maps every (resolution, slot, kernel, expand) of a space to a table key once.
Any per-block quantity (a latency mean, a variance, a feature vector) is then gathered into two
dense arrays, ``fixed[r]`` and ``slots[r, slot, k, e]`` (rows: the table's resolutions), and a
:class:`~ofa.population.Population` (the one encoding of configs, shared with search) is summed with one
fancy-indexing expression. :meth:`BlockIndex.additive` turns such arrays into the project's one additive
cost table, :class:`~ofa.cost_table.AdditiveCost`, indexed by the space's resolutions.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from latency.blocks import fixed_blocks, slot_blocks
from ofa.cost_table import AdditiveCost
from ofa.errors import ArtifactError, ConfigError
from ofa.population import Population, active_mask
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


class BlockIndex:
    """Table keys of every (resolution, slot, k, e) of ``space``, for gathering per-block values."""

    def __init__(self, space: SearchSpace, resolutions: Sequence[int], num_classes: int = 1000):
        self.space, self.num_classes = space, num_classes
        self.resolutions = tuple(sorted(resolutions))
        self.fixed_keys = [[b.key for b in fixed_blocks(space, r, num_classes)] for r in self.resolutions]
        ks, es = space.ks_choices, space.e_choices
        self.slot_keys = []
        for r in self.resolutions:
            blocks = slot_blocks(space, r)
            self.slot_keys.append([[[blocks[(s, k, e)].key for e in es] for k in ks] for s in range(space.n_block_slots)])
        in_space = {r: i for i, r in enumerate(space.resolutions)}
        self._rows = np.full(len(space.resolutions), -1)  # space resolution index -> table row (-1: not built)
        for row, r in enumerate(self.resolutions):
            if r in in_space:
                self._rows[in_space[r]] = row

    @property
    def n_fixed(self) -> int:
        return len(self.fixed_keys[0])

    def all_keys(self) -> set[str]:
        keys = {k for row in self.fixed_keys for k in row}
        return keys | {k for per_r in self.slot_keys for slot in per_r for per_k in slot for k in per_k}

    def gather(self, value: "Mapping[str, np.ndarray] | Callable[[str], np.ndarray]", width: int) -> tuple[np.ndarray, np.ndarray]:
        """``(fixed (R, F), slots (R, S, K, E, F))`` from per-block values keyed by ``(resolution, key)``."""
        get = value.__getitem__ if isinstance(value, Mapping) else value
        space = self.space
        fixed = np.zeros((len(self.resolutions), width))
        slots = np.zeros((len(self.resolutions), space.n_block_slots, len(space.ks_choices), len(space.e_choices), width))
        missing: list[str] = []
        for ri in range(len(self.resolutions)):
            r = self.resolutions[ri]
            for key in self.fixed_keys[ri]:
                fixed[ri] += _lookup(get, (r, key), missing)
            for si, per_k in enumerate(self.slot_keys[ri]):
                for ki, per_e in enumerate(per_k):
                    for ei, key in enumerate(per_e):
                        slots[ri, si, ki, ei] = _lookup(get, (r, key), missing)
        if missing:
            raise ArtifactError(f"the latency table lacks {len(missing)} block(s) of space {space.id} at resolutions "
                                f"{list(self.resolutions)}, e.g. {missing[0]}; build them with `ofa lut build` (it resumes)")
        return fixed, slots

    def encode(self, configs: Sequence[SubnetConfig]) -> Population:
        """The population of a list of configs (about 10 us per config; see :meth:`encode_arrays`)."""
        if not configs:
            raise ConfigError("no sub-network configs to encode")
        ks = np.array([c.ks for c in configs])
        es = np.array([c.e for c in configs])
        ds = np.array([c.d for c in configs])
        rs = np.array([c.r for c in configs])
        return self.encode_arrays(ks, es, ds, rs)

    def encode_arrays(self, ks: np.ndarray, es: np.ndarray, ds: np.ndarray, rs: np.ndarray) -> Population:
        """A population from value arrays ``ks, es (N, slots)``, ``ds (N, stages)``, ``rs (N,)``, checked
        against the space's choices and the resolutions this table was built for."""
        space = self.space
        ks, es, ds, rs = (np.asarray(a, dtype=np.int64) for a in (ks, es, ds, rs))
        if ks.shape != es.shape or ks.ndim != 2 or ks.shape[1] != space.n_block_slots or ds.shape != (len(ks), space.n_stages):
            raise ConfigError(f"config arrays must be ks/e (N, {space.n_block_slots}), d (N, {space.n_stages}), r (N,)")
        _to_index(rs, self.resolutions, "resolution r", "the resolutions this table was built for")
        return Population(_to_index(ks, space.ks_choices, "kernel k", "the space's kernel choices"),
                          _to_index(es, space.e_choices, "expand e", "the space's expand choices"),
                          _to_index(ds, space.d_choices, "depth d", "the space's depth choices"),
                          _to_index(rs, space.resolutions, "resolution r", "the space's resolutions"))

    def rows(self, pop: Population) -> np.ndarray:
        """Table row of each config's resolution; a resolution the table was not built for is a ConfigError."""
        rows = self._rows[pop.r]
        if (rows < 0).any():
            bad = sorted({int(self.space.resolutions[i]) for i in pop.r[rows < 0]})
            raise ConfigError(f"resolution r={bad} is not in the resolutions this table was built for: "
                              f"{list(self.resolutions)}")
        return rows

    def n_blocks(self, pop: Population) -> np.ndarray:
        """Number of elastic blocks each config runs."""
        return active_mask(self.space, pop.d).sum(axis=1)

    def sum(self, tables: tuple[np.ndarray, np.ndarray], pop: Population) -> np.ndarray:
        """Per-config sum of a gathered quantity: ``(N, F)``."""
        fixed, slots = tables
        rows = self.rows(pop)
        slot_ids = np.arange(self.space.n_block_slots)[None, :]
        per_slot = slots[rows[:, None], slot_ids, pop.ks, pop.e]  # (N, S, F)
        return fixed[rows] + (per_slot * active_mask(self.space, pop.d)[..., None]).sum(axis=1)

    def additive(self, base: np.ndarray, block: np.ndarray) -> AdditiveCost:
        """``base (rows,)`` and ``block (rows, S, K, E)`` over the table's resolutions as an
        :class:`~ofa.cost_table.AdditiveCost` over the space's: ``inf`` base where no table row exists."""
        shape = (len(self.space.resolutions),) + block.shape[1:]
        full_base, full_block = np.full(len(self.space.resolutions), np.inf), np.zeros(shape)
        present = self._rows >= 0
        full_base[present], full_block[present] = base[self._rows[present]], block[self._rows[present]]
        return AdditiveCost(self.space, full_base, full_block)


def _lookup(get, ident: tuple[int, str], missing: list[str]) -> np.ndarray:
    try:
        return np.asarray(get(ident), dtype=float)
    except KeyError:
        missing.append(f"{ident[1]} at r={ident[0]}")
        return np.zeros(1)


def _to_index(values: np.ndarray, choices: Sequence[int], name: str, where: str) -> np.ndarray:
    choices_arr = np.asarray(choices)
    idx = np.searchsorted(choices_arr, values)
    idx_clipped = np.clip(idx, 0, len(choices_arr) - 1)
    bad = choices_arr[idx_clipped] != values
    if bad.any():
        raise ConfigError(f"{name}={sorted(set(values[bad].tolist()))} is not in {where}: {list(choices)}")
    return idx_clipped
