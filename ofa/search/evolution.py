"""Constrained evolutionary search (OFA's algorithm), vectorised over whole populations.

Defaults as in OFA: population 100, 500 generations, the best 25% are parents; each generation
breeds 100 children, half mutations (each gene resampled with probability 0.1) and half uniform
crossovers, and the next parents are the best of parents + children (repeats included, as OFA;
``distinct_parents=True`` keeps the best distinct architectures instead, see :func:`_best_distinct`). Children that
break a constraint are replaced by fresh tries in the same vectorised batch, never by an unbounded
rejection loop: an infeasible budget is detected up front (exact minimum of each cost) and a search
whose feasible region is too small to fill a population keeps the parents instead of hanging.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ofa.errors import InfeasibleError
from ofa.population import Population
from ofa.search.constraints import Constraint, allowed_resolutions, check_reachable, feasible
from ofa.search.population import concat, gene_ops, genes_of, mutate, sample
from ofa.spaces import SearchSpace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvolutionSettings:
    population: int = 100
    generations: int = 500
    parent_ratio: float = 0.25
    mutation_ratio: float = 0.5
    mutation_prob: float = 0.1
    init_tries: int = 50  # batches of random samples to fill the first population
    distinct_parents: bool = False  # OFA keeps repeats among the parents; True: the best distinct ones
    seed: int = 0


@dataclass
class SearchHistory:
    """Every evaluated candidate: generation, population rows, fitness and each cost."""

    generations: list[np.ndarray] = field(default_factory=list)
    members: list[Population] = field(default_factory=list)
    fitness: list[np.ndarray] = field(default_factory=list)

    def add(self, gen: int, pop: Population, fit: np.ndarray) -> None:
        self.generations.append(np.full(len(pop), gen))
        self.members.append(pop)
        self.fitness.append(fit)

    def population(self) -> Population:
        return concat(self.members)

    def __len__(self) -> int:
        return int(sum(len(g) for g in self.generations))


@dataclass
class SearchResult:
    best: Population  # one row
    fitness: float
    history: SearchHistory
    seconds: float
    evaluations: int


def _feasible_children(make: Callable[[int], Population], n: int, constraints: list[Constraint], tries: int = 4) -> Population:
    """Up to ``n`` feasible children, generated in oversized vectorised batches (bounded tries)."""
    found: list[Population] = []
    count = 0
    for _ in range(tries):
        batch = make(max(2 * n, 8))
        keep = batch.take(np.flatnonzero(feasible(constraints, batch)))
        found.append(keep)
        count += len(keep)
        if count >= n:
            break
    return concat(found).take(slice(0, n))


def initial_population(space: SearchSpace, constraints: list[Constraint], s: EvolutionSettings,
                       rng: np.random.Generator) -> Population:
    """Feasible random samples; near-minimal seeds when the feasible region is tiny."""
    check_reachable(space, constraints)
    r_choices = allowed_resolutions(space, constraints)
    pop = _feasible_children(lambda n: sample(space, n, rng, r_choices), s.population, constraints, tries=s.init_tries)
    if len(pop) < s.population:
        seeds = concat([c.cost.minimum()[1] for c in constraints]) if constraints else sample(space, 1, rng)
        grown = _feasible_children(lambda n: mutate(space, seeds.take(rng.integers(0, len(seeds), n)), 0.05, rng, r_choices),
                                   s.population - len(pop), constraints, tries=s.init_tries)
        pop = concat([pop, seeds.take(np.flatnonzero(feasible(constraints, seeds))), grown])
    if len(pop) == 0:
        names = ", ".join(f"{c.cost.name} <= {c.limit:g}" for c in constraints)
        raise InfeasibleError(f"no sub-network of {space.id} meets all of {names} together; relax one of them")
    return pop.take(slice(0, s.population))


def evolve(space: SearchSpace, fitness: Callable[[Population], np.ndarray], constraints: list[Constraint],
           settings: EvolutionSettings = EvolutionSettings(),
           on_generation: Callable[[int, float], None] | None = None) -> SearchResult:
    """Maximise ``fitness`` subject to ``constraints``; seeded and deterministic.

    Runs on gene matrices (:func:`~ofa.search.population.genes_of`): one array operation per pick, mutation,
    crossover and selection; the parents' scores are carried over, never recomputed. ``space`` may also be an
    OFA-ResNet space (:class:`~ofa.spaces.resnet.ResNetSpace`): its populations are gene matrices already
    (:func:`~ofa.search.population.gene_ops`)."""
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    s = settings
    genes = genes_of(initial_population(space, constraints, s, rng))
    r_choices = allowed_resolutions(space, constraints)
    n_parents = max(1, int(round(s.parent_ratio * s.population)))
    n_mutate = int(round(s.mutation_ratio * s.population))
    ops = gene_ops(space)  # MobileNetV3's or ResNet's operators on gene matrices; view: the population of one
    view = ops.view
    fitness = MemoizedFitness(space, fitness)
    history = SearchHistory()
    scores, keys = fitness.with_keys(view(genes))
    history.add(0, view(genes), scores)
    ok = lambda g: feasible(constraints, view(g))  # noqa: E731
    for gen in range(1, s.generations + 1):
        order = (_best_distinct(scores, keys, n_parents) if s.distinct_parents
                 else np.argsort(-scores, kind="stable")[:n_parents])
        parents, parent_scores, parent_keys = genes[order], scores[order], [keys[i] for i in order]
        pick = lambda n: parents[rng.integers(0, len(parents), n)]  # noqa: E731
        mutants = _feasible_genes(lambda n: ops.mutate(pick(n), s.mutation_prob, rng, r_choices), n_mutate, ok)
        crosses = _feasible_genes(lambda n: ops.crossover(pick(n), pick(n), rng),
                                  s.population - len(mutants), ok)
        children = np.concatenate([mutants, crosses])
        child_scores, child_keys = fitness.with_keys(view(children))
        history.add(gen, view(children), child_scores)
        genes, scores = np.concatenate([parents, children]), np.concatenate([parent_scores, child_scores])
        keys = parent_keys + child_keys
        if on_generation:
            on_generation(gen, float(scores.max()))
    best = int(np.argmax(scores))
    return SearchResult(view(genes[best:best + 1]), float(scores[best]), history,
                        time.perf_counter() - start, len(history))


def _best_distinct(scores: np.ndarray, keys: list, n: int) -> list[int]:
    """Indices of the ``n`` best *distinct* architectures (repeats only fill in when fewer than ``n`` exist).

    OFA keeps the best ``n`` rows, repeats included: once copies of one network fill the parents, crossover
    among them breeds the same network again and the search can stall (bench/search_speed.py reports both).
    More distinct parents breed more distinct children, so it costs more predictor queries."""
    first: list[int] = []
    repeats: list[int] = []
    seen: set = set()
    for i in np.argsort(-scores, kind="stable").tolist():
        (repeats if keys[i] in seen else first).append(i)
        seen.add(keys[i])
        if len(first) == n:
            break
    return (first + repeats)[:n]


def _feasible_genes(make: Callable[[int], np.ndarray], n: int, ok: Callable[[np.ndarray], np.ndarray],
                    tries: int = 4) -> np.ndarray:
    """:func:`_feasible_children` on gene matrices."""
    found, count = [], 0
    for _ in range(tries):
        batch = make(max(2 * n, 8))
        keep = batch[ok(batch)]
        found.append(keep)
        count += len(keep)
        if count >= n:
            break
    return (found[0] if len(found) == 1 else np.concatenate(found))[:n]


class MemoizedFitness:
    """Scores each distinct architecture once per search (children often repeat late in a search)."""

    def __init__(self, space: SearchSpace, fitness: Callable[[Population], np.ndarray]):
        self.space, self.fitness, self.cache = space, fitness, {}

    def __call__(self, pop: Population) -> np.ndarray:
        return self.with_keys(pop)[0]

    def with_keys(self, pop: Population) -> tuple[np.ndarray, list[bytes]]:
        """Scores and one key per row (equal keys = same architecture)."""
        rows = np.ascontiguousarray(pop.key_rows(self.space), dtype=np.int8)
        keys = rows.view(np.dtype((np.void, rows.shape[1]))).ravel().tolist()  # one bytes key per row
        cache = self.cache
        scores = [cache.get(k) for k in keys]
        if None in scores:
            firsts: dict = {}
            for i, k in enumerate(keys):
                if scores[i] is None:
                    firsts.setdefault(k, i)  # the first row of each new key, in order
            new = self.fitness(pop.take(list(firsts.values())))
            cache.update(zip(firsts, new.tolist()))
            scores = [cache[k] for k in keys]
        return np.array(scores, dtype=np.float64), keys
