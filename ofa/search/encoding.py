"""One-hot features of sub-networks for the accuracy predictor (OFA's encoding).

Per block slot: one-hot kernel and one-hot expand, all zeros when the slot is skipped by depth;
then a one-hot resolution. For OFA-MBv3 that is 20 x (3 + 3) + 25 = 145 features.

An OFA-ResNet population (gene matrix ``d | e | w | r``) is encoded gene by gene: one-hot ``d`` (the stem's
reduced to whether its residual conv runs), one-hot ``e`` per block slot (zeros when the slot is skipped),
one-hot ``w``, one-hot ``r``: 5 x 3 + 18 x 3 + 6 x 3 + 25 = 112 features for OFA-ResNet50.
"""

from __future__ import annotations

import numpy as np

from ofa.population import Population, active_mask
from ofa.resnet_population import ResNetPopulation, choice_counts, layout
from ofa.resnet_population import active_mask as resnet_active_mask
from ofa.spaces import SearchSpace
from ofa.spaces.resnet import ResNetSpace


def feature_size(space: "SearchSpace | ResNetSpace") -> int:
    if isinstance(space, ResNetSpace):
        return int(choice_counts(space).sum())
    return space.n_block_slots * (len(space.ks_choices) + len(space.e_choices)) + len(space.resolutions)


def encode(space: SearchSpace, pop: Population) -> np.ndarray:
    """(N, feature_size) float32 features of a population, set by index (one scatter, no one-hot temporaries)."""
    if isinstance(pop, ResNetPopulation):
        return _encode_genes(space, pop)
    n, slots = len(pop), space.n_block_slots
    nk, width = len(space.ks_choices), len(space.ks_choices) + len(space.e_choices)
    out = np.zeros((n, feature_size(space)), np.float32)
    row = np.arange(n)[:, None] * out.shape[1]
    col = np.arange(slots)[None, :] * width
    active = active_mask(space, pop.d)
    flat = out.reshape(-1)
    flat[(row + col + pop.ks)[active]] = 1.0
    flat[(row + col + nk + pop.e)[active]] = 1.0
    flat[row[:, 0] + slots * width + pop.r] = 1.0
    return out


def _encode_genes(space: ResNetSpace, pop: ResNetPopulation) -> np.ndarray:
    """One-hot per gene column of the canonical rows (:meth:`ResNetPopulation.key_rows`), skipped slots all zeros."""
    counts, lay = choice_counts(space), layout(space)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rows = pop.key_rows(space)
    on = np.ones(rows.shape, dtype=bool)
    on[:, lay.e] = resnet_active_mask(space, rows[:, lay.d])
    out = np.zeros((len(pop), int(counts.sum())), np.float32)
    n, col = np.nonzero(on)
    out[n, offsets[col] + rows[n, col]] = 1.0
    return out
