"""Random search: uniform feasible samples, in batches, until the evaluation budget is spent."""

from __future__ import annotations

import time

import numpy as np

from ofa.search.constraints import Constraint, allowed_resolutions
from ofa.search.evolution import (
    EvolutionSettings,
    MemoizedFitness,
    SearchHistory,
    SearchResult,
    _feasible_children,
    initial_population,
)
from ofa.search.population import sample
from ofa.search.strategies.common import result_of
from ofa.spaces import SearchSpace


def random_search(space: SearchSpace, fitness, constraints: list[Constraint], settings: EvolutionSettings,
                  evaluations: int) -> SearchResult:
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    r_choices = allowed_resolutions(space, constraints)
    score = MemoizedFitness(space, fitness)
    history = SearchHistory()
    batch = initial_population(space, constraints, settings, rng).take(slice(0, evaluations))
    done, step = 0, 0
    while len(batch):
        history.add(step, batch, score(batch))
        done, step = done + len(batch), step + 1
        n = min(settings.population, evaluations - done)
        if n <= 0:
            break
        batch = _feasible_children(lambda k: sample(space, k, rng, r_choices), n, constraints)
    return result_of(history, start)
