"""Constrained evolutionary search (OFA's algorithm), vectorised over whole populations.

Defaults as in OFA: population 100, 500 generations, the best 25% are parents; each generation
breeds 100 children, half mutations (each gene resampled with probability 0.1) and half uniform
crossovers, and the next parents are the best of parents + children. Children that
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
from ofa.search.population import crossover, mutate, sample
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
        return Population.concat(self.members)

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
    return Population.concat(found).take(slice(0, n))


def initial_population(space: SearchSpace, constraints: list[Constraint], s: EvolutionSettings,
                       rng: np.random.Generator) -> Population:
    """Feasible random samples; near-minimal seeds when the feasible region is tiny."""
    check_reachable(space, constraints)
    r_choices = allowed_resolutions(space, constraints)
    pop = _feasible_children(lambda n: sample(space, n, rng, r_choices), s.population, constraints, tries=s.init_tries)
    if len(pop) < s.population:
        seeds = Population.concat([c.cost.minimum()[1] for c in constraints]) if constraints else sample(space, 1, rng)
        grown = _feasible_children(lambda n: mutate(space, seeds.take(rng.integers(0, len(seeds), n)), 0.05, rng, r_choices),
                                   s.population - len(pop), constraints, tries=s.init_tries)
        pop = Population.concat([pop, seeds.take(np.flatnonzero(feasible(constraints, seeds))), grown])
    if len(pop) == 0:
        names = ", ".join(f"{c.cost.name} <= {c.limit:g}" for c in constraints)
        raise InfeasibleError(f"no sub-network of {space.id} meets all of {names} together; relax one of them")
    return pop.take(slice(0, s.population))


def evolve(space: SearchSpace, fitness: Callable[[Population], np.ndarray], constraints: list[Constraint],
           settings: EvolutionSettings = EvolutionSettings(),
           on_generation: Callable[[int, float], None] | None = None) -> SearchResult:
    """Maximise ``fitness`` subject to ``constraints``; seeded and deterministic."""
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    s = settings
    pop = initial_population(space, constraints, s, rng)
    r_choices = allowed_resolutions(space, constraints)
    n_parents = max(1, int(round(s.parent_ratio * s.population)))
    n_mutate = int(round(s.mutation_ratio * s.population))
    fitness = MemoizedFitness(space, fitness)
    history = SearchHistory()
    scores = fitness(pop)
    history.add(0, pop, scores)
    for gen in range(1, s.generations + 1):
        parents = pop.take(np.argsort(-scores, kind="stable")[:n_parents])
        pick = lambda n: parents.take(rng.integers(0, len(parents), n))  # noqa: E731
        mutants = _feasible_children(lambda n: mutate(space, pick(n), s.mutation_prob, rng, r_choices), n_mutate, constraints)
        n_cross = s.population - len(mutants)
        crosses = _feasible_children(lambda n: crossover(pick(n), pick(n), rng), n_cross, constraints)
        children = Population.concat([mutants, crosses])
        child_scores = fitness(children)
        history.add(gen, children, child_scores)
        pop = Population.concat([parents, children])
        scores = np.concatenate([np.sort(scores)[::-1][:n_parents], child_scores])
        if on_generation:
            on_generation(gen, float(scores.max()))
    best = int(np.argmax(scores))
    return SearchResult(pop.take([best]), float(scores[best]), history, time.perf_counter() - start, len(history))


class MemoizedFitness:
    """Scores each distinct architecture once per search (children often repeat late in a search)."""

    def __init__(self, space: SearchSpace, fitness: Callable[[Population], np.ndarray]):
        self.space, self.fitness, self.cache = space, fitness, {}

    def __call__(self, pop: Population) -> np.ndarray:
        rows = np.ascontiguousarray(pop.key_rows(self.space), dtype=np.int8)
        keys = [row.tobytes() for row in rows]
        missing = list(dict.fromkeys(k for k in keys if k not in self.cache))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            new = self.fitness(pop.take([first[k] for k in missing]))
            self.cache.update(zip(missing, new.tolist()))
        return np.fromiter((self.cache[k] for k in keys), dtype=np.float64, count=len(keys))
