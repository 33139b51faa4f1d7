"""NSGA-II for accuracy/latency Pareto fronts: non-dominated sorting + crowding distance, vectorised."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ofa.population import Population
from ofa.search.constraints import Constraint, allowed_resolutions, feasible
from ofa.search.evolution import EvolutionSettings, _feasible_children, initial_population
from ofa.search.population import crossover, mutate
from ofa.spaces import SearchSpace


def non_dominated_ranks(objectives: np.ndarray) -> np.ndarray:
    """Pareto rank (0 = front) of each row; all objectives are minimised."""
    n = len(objectives)
    le = (objectives[:, None, :] <= objectives[None, :, :]).all(axis=2)
    lt = (objectives[:, None, :] < objectives[None, :, :]).any(axis=2)
    dominates = le & lt  # dominates[i, j]: i dominates j
    dominated_by = dominates.sum(axis=0)
    ranks = np.full(n, -1)
    current = np.flatnonzero(dominated_by == 0)
    rank = 0
    while current.size:
        ranks[current] = rank
        dominated_by = dominated_by - dominates[current].sum(axis=0)
        dominated_by[ranks >= 0] = -1
        current = np.flatnonzero(dominated_by == 0)
        rank += 1
    return ranks


def crowding(objectives: np.ndarray) -> np.ndarray:
    n, m = objectives.shape
    dist = np.zeros(n)
    for j in range(m):
        order = np.argsort(objectives[:, j], kind="stable")
        span = objectives[order[-1], j] - objectives[order[0], j] or 1.0
        dist[order[0]] = dist[order[-1]] = np.inf
        dist[order[1:-1]] += (objectives[order[2:], j] - objectives[order[:-2], j]) / span
    return dist


def _select(objectives: np.ndarray, n: int) -> np.ndarray:
    ranks = non_dominated_ranks(objectives)
    chosen: list[int] = []
    for rank in range(ranks.max() + 1):
        members = np.flatnonzero(ranks == rank)
        if len(chosen) + len(members) <= n:
            chosen += members.tolist()
        else:
            order = np.argsort(-crowding(objectives[members]), kind="stable")
            chosen += members[order[: n - len(chosen)]].tolist()
            break
    return np.asarray(chosen)


@dataclass
class ParetoResult:
    front: Population
    accuracy: np.ndarray
    cost: np.ndarray
    seconds: float
    evaluations: int


def pareto_front(space: SearchSpace, accuracy: Callable[[Population], np.ndarray], cost: Callable[[Population], np.ndarray],
                 constraints: list[Constraint], settings: EvolutionSettings = EvolutionSettings(generations=200),
                 ) -> ParetoResult:
    """Accuracy (max) vs cost (min) front; every evaluated candidate competes for the archive."""
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    pop = initial_population(space, constraints, settings, rng)
    r_choices = allowed_resolutions(space, constraints)
    objectives = np.stack([-accuracy(pop), cost(pop)], axis=1)
    archive, archive_obj = pop, objectives
    evaluations = len(pop)
    for _ in range(settings.generations):
        pick = lambda n: pop.take(rng.integers(0, len(pop), n))  # noqa: E731 - parents drawn from survivors
        half = settings.population // 2
        children = Population.concat([
            _feasible_children(lambda n: mutate(space, pick(n), settings.mutation_prob, rng, r_choices), half, constraints),
            _feasible_children(lambda n: crossover(pick(n), pick(n), rng), settings.population - half, constraints),
        ])
        child_obj = np.stack([-accuracy(children), cost(children)], axis=1)
        evaluations += len(children)
        merged, merged_obj = Population.concat([pop, children]), np.concatenate([objectives, child_obj])
        keep = _select(merged_obj, settings.population)
        pop, objectives = merged.take(keep), merged_obj[keep]
        archive, archive_obj = _front(Population.concat([archive, children]), np.concatenate([archive_obj, child_obj]), space)
    order = np.argsort(archive_obj[:, 1], kind="stable")
    return ParetoResult(archive.take(order), -archive_obj[order, 0], archive_obj[order, 1], time.perf_counter() - start,
                        evaluations)


def front_2d(obj: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of a 2-objective (minimised) array, O(N log N)."""
    order = np.lexsort((obj[:, 0], obj[:, 1]))  # by cost, then by -accuracy
    best = np.minimum.accumulate(obj[order, 0])
    improves = np.concatenate([[True], obj[order[1:], 0] < best[:-1]])
    return order[improves]


def _front(pop: Population, obj: np.ndarray, space: SearchSpace) -> tuple[Population, np.ndarray]:
    keep = front_2d(obj)
    pop, obj = pop.take(keep), obj[keep]
    _, unique = np.unique(pop.key_rows(space), axis=0, return_index=True)
    return pop.take(unique), obj[unique]


def hypervolume_2d(accuracy: np.ndarray, cost: np.ndarray, ref_cost: float, ref_acc: float = 0.0) -> float:
    """Area dominated by (max accuracy, min cost) points w.r.t. the reference (ref_cost, ref_acc)."""
    pts = sorted((c, a) for a, c in zip(accuracy, cost) if c <= ref_cost and a >= ref_acc)
    area, best_acc = 0.0, ref_acc
    for i, (c, a) in enumerate(pts):
        best_acc = max(best_acc, a)
        next_c = pts[i + 1][0] if i + 1 < len(pts) else ref_cost
        area += (next_c - c) * (best_acc - ref_acc)
    return area


__all__ = ["pareto_front", "ParetoResult", "non_dominated_ranks", "crowding", "hypervolume_2d", "feasible"]
