"""Random search: uniform samples, the infeasible ones rejected before scoring, until the evaluation budget is
spent (or :data:`~ofa.search.strategies.common.MAX_DRAWS_PER_EVALUATION` draws per evaluation found nothing:
a feasible region that small is out of random search's reach, and the result says how many it spent)."""

from __future__ import annotations

import time

import numpy as np

from ofa.search.constraints import Constraint, allowed_resolutions
from ofa.search.evolution import (
    EvolutionSettings,
    MemoizedFitness,
    SearchHistory,
    SearchResult,
    initial_population,
)
from ofa.search.population import sample
from ofa.search.strategies.common import MAX_DRAWS_PER_EVALUATION, feasible_draws, result_of
from ofa.spaces import SearchSpace


def random_search(space: SearchSpace, fitness, constraints: list[Constraint], settings: EvolutionSettings,
                  evaluations: int) -> SearchResult:
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    r_choices = allowed_resolutions(space, constraints)
    score = MemoizedFitness(space, fitness)
    history = SearchHistory()
    batch = initial_population(space, constraints, settings, rng).take(slice(0, evaluations))
    draws_left = MAX_DRAWS_PER_EVALUATION * evaluations
    step = 0
    while batch is not None and len(batch):
        history.add(step, batch, score(batch))
        step += 1
        n = min(settings.population, evaluations - len(history))
        if n <= 0:
            break
        batch, drawn = feasible_draws(lambda k: sample(space, k, rng, r_choices), n, constraints, draws_left)
        draws_left -= drawn
    return result_of(history, start)
