"""Search operators on :class:`~ofa.population.Population` arrays: sampling, mutation, crossover.

Each acts on whole arrays at once (vectorised); the population type itself is core (:mod:`ofa.population`).
"""

from __future__ import annotations

import numpy as np

from ofa.population import Population
from ofa.spaces import SearchSpace


def sample(space: SearchSpace, n: int, rng: np.random.Generator, r_choices: np.ndarray | None = None) -> Population:
    """``n`` uniformly random configs (resolution indices from ``r_choices`` if given)."""
    slots, stages = space.n_block_slots, space.n_stages
    r = rng.choice(r_choices, n) if r_choices is not None else rng.integers(0, len(space.resolutions), n)
    return Population(rng.integers(0, len(space.ks_choices), (n, slots)), rng.integers(0, len(space.e_choices), (n, slots)),
                      rng.integers(0, len(space.d_choices), (n, stages)), np.asarray(r, dtype=np.int64))


def mutate(space: SearchSpace, parents: Population, prob: float, rng: np.random.Generator,
           r_choices: np.ndarray | None = None) -> Population:
    """Each gene of each parent is resampled with probability ``prob`` (OFA's mutation)."""
    fresh = sample(space, len(parents), rng, r_choices)
    out = []
    for field in ("ks", "e", "d", "r"):
        old, new = getattr(parents, field), getattr(fresh, field)
        out.append(np.where(rng.random(old.shape) < prob, new, old))
    return Population(*out)


def crossover(a: Population, b: Population, rng: np.random.Generator) -> Population:
    """Uniform crossover: each gene from parent ``a`` or ``b`` with equal probability."""
    out = []
    for field in ("ks", "e", "d", "r"):
        x, y = getattr(a, field), getattr(b, field)
        out.append(np.where(rng.random(x.shape) < 0.5, x, y))
    return Population(*out)
