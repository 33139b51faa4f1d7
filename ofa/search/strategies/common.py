"""What the strategies share: the result built from a history, and feasible batches."""

from __future__ import annotations

import time

import numpy as np

from ofa.search.evolution import SearchHistory, SearchResult


def result_of(history: SearchHistory, start: float, evaluations: int | None = None) -> SearchResult:
    """The best evaluated candidate of ``history`` (every candidate in it is feasible); ``evaluations``: the
    fitness queries spent, when some went to infeasible samples that the history does not keep."""
    scores = np.concatenate(history.fitness)
    best = int(np.argmax(scores))
    return SearchResult(history.population().take([best]), float(scores[best]), history, time.perf_counter() - start,
                        len(history) if evaluations is None else evaluations)


#: a search whose feasible region is so small that this many draws per evaluation find nothing stops early
MAX_DRAWS_PER_EVALUATION = 100


def feasible_draws(draw, n: int, constraints, budget_draws: int) -> tuple:
    """Up to ``n`` feasible rows from repeated ``draw(k)`` batches, and the number of rows drawn (<= budget)."""
    from ofa.population import Population
    from ofa.search.constraints import feasible

    found, drawn, count = [], 0, 0
    while count < n and drawn < budget_draws:
        k = min(max(2 * n, 64), budget_draws - drawn)
        batch = draw(k)
        drawn += k
        keep = batch.take(np.flatnonzero(feasible(constraints, batch)))
        found.append(keep)
        count += len(keep)
    pop = Population.concat(found) if found else None
    return (pop.take(slice(0, n)) if pop is not None else None), drawn
