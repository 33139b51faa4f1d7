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
    """(N, feature_size) float32 features of a population."""
    n = len(pop)
    nk, ne = len(space.ks_choices), len(space.e_choices)
    mask = active_mask(space, pop.d).astype(np.float32)  # (N, slots)
    ks = np.eye(nk, dtype=np.float32)[pop.ks]  # (N, slots, nk) one-hot
    e = np.eye(ne, dtype=np.float32)[pop.e]
    blocks = np.concatenate([ks, e], axis=2) * mask[..., None]
    r = np.zeros((n, len(space.resolutions)), np.float32)
    r[np.arange(n), pop.r] = 1.0
    return np.concatenate([blocks.reshape(n, -1), r], axis=1)

