"""One-hot features of sub-networks for the accuracy predictor (OFA's encoding).

Per block slot: one-hot kernel and one-hot expand, all zeros when the slot is skipped by depth;
then a one-hot resolution. For OFA-MBv3 that is 20 x (3 + 3) + 25 = 145 features.
"""

from __future__ import annotations

import numpy as np

from ofa.population import Population, active_mask
from ofa.spaces import SearchSpace


def feature_size(space: SearchSpace) -> int:
    return space.n_block_slots * (len(space.ks_choices) + len(space.e_choices)) + len(space.resolutions)


def encode(space: SearchSpace, pop: Population) -> np.ndarray:
    """(N, feature_size) float32 features of a population, set by index (one scatter, no one-hot temporaries)."""
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
