"""Search operators on :class:`~ofa.population.Population` arrays: sampling, mutation, crossover.

Each acts on whole arrays at once (vectorised); the population type itself is core (:mod:`ofa.population`).
The hot loops (:func:`ofa.search.evolution.evolve`) work on *genes*: one (N, 2 slots + stages + 1) integer
matrix, columns ``ks | e | d | r``, so that picking, mutating and keeping rows is one array operation
instead of four; :func:`as_population` views it as a Population without copying. The random draws are
the same, in the same order, as the Population operators, so a seed gives the same search either way.

An OFA-ResNet space's population *is* a gene matrix (:class:`~ofa.resnet_population.ResNetPopulation`,
columns ``d | e | w | r``, each with its own number of choices): :func:`gene_ops` gives the evolution one
set of operators for either family, the ResNet ones drawing each gene below its column's choice count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ofa.population import Population
from ofa.resnet_population import ResNetPopulation, choice_counts
from ofa.spaces import SearchSpace
from ofa.spaces.resnet import ResNetSpace


@dataclass(frozen=True)
class GeneOps:
    """A space's search operators on gene matrices, and the population view of one."""

    sample: Callable[[int, np.random.Generator, "np.ndarray | None"], np.ndarray]
    mutate: Callable[[np.ndarray, float, np.random.Generator, "np.ndarray | None"], np.ndarray]
    crossover: Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]
    view: Callable[[np.ndarray], "Population | ResNetPopulation"]


def gene_ops(space: "SearchSpace | ResNetSpace") -> GeneOps:
    if isinstance(space, ResNetSpace):
        counts = choice_counts(space)
        return GeneOps(lambda n, rng, rc: _sample_counted(counts, n, rng, rc),
                       lambda g, prob, rng, rc: _mutate_counted(counts, g, prob, rng, rc),
                       lambda a, b, rng: np.where(rng.random(a.shape) < 0.5, a, b),
                       lambda g: ResNetPopulation(g, space))
    slots, stages = space.n_block_slots, space.n_stages
    return GeneOps(lambda n, rng, rc: sample_genes(space, n, rng, rc),
                   lambda g, prob, rng, rc: mutate_genes(space, g, prob, rng, rc),
                   lambda a, b, rng: crossover_genes(a, b, rng, slots, stages),
                   lambda g: _view(g, slots, stages))


def _sample_counted(counts: np.ndarray, n: int, rng: np.random.Generator,
                    r_choices: "np.ndarray | None") -> np.ndarray:
    """``n`` uniform gene rows, column j below ``counts[j]``; the last (resolution) from ``r_choices`` if given."""
    genes = np.empty((n, len(counts)), dtype=np.int64)
    genes[:, :-1] = rng.integers(0, counts[:-1], (n, len(counts) - 1))
    genes[:, -1] = rng.choice(r_choices, n) if r_choices is not None else rng.integers(0, counts[-1], n)
    return genes


def _mutate_counted(counts: np.ndarray, parents: np.ndarray, prob: float, rng: np.random.Generator,
                    r_choices: "np.ndarray | None") -> np.ndarray:
    """Each gene resampled with probability ``prob`` (one uniform per gene, drawn before the fresh rows)."""
    coin = rng.random(parents.shape) < prob
    return np.where(coin, _sample_counted(counts, len(parents), rng, r_choices), parents)


def concat(parts: list) -> "Population | ResNetPopulation":
    """Populations of either family, joined."""
    return type(parts[0]).concat(parts)


def from_configs(space: "SearchSpace | ResNetSpace", configs: list) -> "Population | ResNetPopulation":
    cls = ResNetPopulation if isinstance(space, ResNetSpace) else Population
    return cls.from_configs(space, configs)


def sample(space: SearchSpace, n: int, rng: np.random.Generator, r_choices: np.ndarray | None = None) -> Population:
    """``n`` uniformly random configs (resolution indices from ``r_choices`` if given)."""
    ops = gene_ops(space)
    return ops.view(ops.sample(n, rng, r_choices))


def mutate(space: SearchSpace, parents: Population, prob: float, rng: np.random.Generator,
           r_choices: np.ndarray | None = None) -> Population:
    """Each gene of each parent is resampled with probability ``prob`` (OFA's mutation)."""
    ops = gene_ops(space)
    return ops.view(ops.mutate(genes_of(parents), prob, rng, r_choices))


def crossover(a: Population, b: Population, rng: np.random.Generator) -> Population:
    """Uniform crossover: each gene from parent ``a`` or ``b`` with equal probability."""
    slots, stages = a.ks.shape[1], a.d.shape[1]
    return _view(crossover_genes(genes_of(a), genes_of(b), rng, slots, stages), slots, stages)


def genes_of(pop: Population) -> np.ndarray:
    """The (N, 2 slots + stages + 1) int64 gene matrix of a population (a copy; a ResNet one's own genes)."""
    if isinstance(pop, ResNetPopulation):
        return pop.genes.astype(np.int64, copy=True)
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
