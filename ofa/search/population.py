"""Search operators on :class:`~ofa.population.Population` arrays: sampling, mutation, crossover.

Each acts on whole arrays at once (vectorised); the population type itself is core (:mod:`ofa.population`).
The hot loops (:func:`ofa.search.evolution.evolve`) work on *genes*: one (N, 2 slots + stages + 1) integer
matrix, columns ``ks | e | d | r``, so that picking, mutating and keeping rows is one array operation
instead of four; :func:`as_population` views it as a Population without copying. The random draws are
the same, in the same order, as the Population operators, so a seed gives the same search either way.
"""

from __future__ import annotations

import numpy as np

from ofa.population import Population
from ofa.spaces import SearchSpace


def sample(space: SearchSpace, n: int, rng: np.random.Generator, r_choices: np.ndarray | None = None) -> Population:
    """``n`` uniformly random configs (resolution indices from ``r_choices`` if given)."""
    return as_population(space, sample_genes(space, n, rng, r_choices))


def mutate(space: SearchSpace, parents: Population, prob: float, rng: np.random.Generator,
           r_choices: np.ndarray | None = None) -> Population:
    """Each gene of each parent is resampled with probability ``prob`` (OFA's mutation)."""
    return as_population(space, mutate_genes(space, genes_of(parents), prob, rng, r_choices))


def crossover(a: Population, b: Population, rng: np.random.Generator) -> Population:
    """Uniform crossover: each gene from parent ``a`` or ``b`` with equal probability."""
    slots, stages = a.ks.shape[1], a.d.shape[1]
    return _view(crossover_genes(genes_of(a), genes_of(b), rng, slots, stages), slots, stages)


def genes_of(pop: Population) -> np.ndarray:
    """The (N, 2 slots + stages + 1) int64 gene matrix of a population (a copy)."""
    return np.concatenate([pop.ks, pop.e, pop.d, pop.r[:, None]], axis=1).astype(np.int64, copy=False)


def as_population(space: SearchSpace, genes: np.ndarray) -> Population:
    """A Population whose arrays are views of ``genes`` (no copy)."""
    return _view(genes, space.n_block_slots, space.n_stages)


def _view(genes: np.ndarray, slots: int, stages: int) -> Population:
    return Population(genes[:, :slots], genes[:, slots:2 * slots], genes[:, 2 * slots:2 * slots + stages], genes[:, -1])


def sample_genes(space: SearchSpace, n: int, rng: np.random.Generator, r_choices: np.ndarray | None = None) -> np.ndarray:
    """``n`` uniformly random gene rows (one draw per field: r, ks, e, d, the order :func:`sample` always used)."""
    slots, stages = space.n_block_slots, space.n_stages
    genes = np.empty((n, 2 * slots + stages + 1), dtype=np.int64)
    genes[:, -1] = rng.choice(r_choices, n) if r_choices is not None else rng.integers(0, len(space.resolutions), n)
    genes[:, :slots] = rng.integers(0, len(space.ks_choices), (n, slots))
    genes[:, slots:2 * slots] = rng.integers(0, len(space.e_choices), (n, slots))
    genes[:, 2 * slots:-1] = rng.integers(0, len(space.d_choices), (n, stages))
    return genes


def _coin(rng: np.random.Generator, n: int, slots: int, stages: int, prob: float) -> np.ndarray:
    """(n, genes) booleans ``u < prob``, one uniform per gene, drawn field by field (ks, e, d, r) like four
    ``rng.random(field.shape)`` calls: one call of the total size yields the same numbers in that order."""
    flat = rng.random(n * (2 * slots + stages + 1)) < prob
    a, b, c = n * slots, 2 * n * slots, n * (2 * slots + stages)
    return np.concatenate([flat[:a].reshape(n, slots), flat[a:b].reshape(n, slots), flat[b:c].reshape(n, stages),
                           flat[c:, None]], axis=1)


def mutate_genes(space: SearchSpace, parents: np.ndarray, prob: float, rng: np.random.Generator,
                 r_choices: np.ndarray | None = None) -> np.ndarray:
    fresh = sample_genes(space, len(parents), rng, r_choices)
    return np.where(_coin(rng, len(parents), space.n_block_slots, space.n_stages, prob), fresh, parents)


def crossover_genes(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, slots: int, stages: int) -> np.ndarray:
    return np.where(_coin(rng, len(a), slots, stages, 0.5), a, b)
