"""NSGA-II (:func:`ofa.search.nsga2.pareto_front`) as a best-under-budget strategy.

It searches the front of accuracy against the first constraint's cost (the latency budget when one is
given, else FLOPs or params) under every constraint, and returns the front's most accurate point. The
front itself is what ``ofa search --pareto`` prints.
"""

from __future__ import annotations

import numpy as np

from ofa.cost_table import flops_table
from ofa.search.constraints import Constraint, additive_cost
from ofa.search.evolution import EvolutionSettings, SearchHistory, SearchResult
from ofa.search.nsga2 import pareto_front
from ofa.spaces import SearchSpace


def nsga2_best(space: SearchSpace, fitness, constraints: list[Constraint], settings: EvolutionSettings,
               evaluations: int) -> SearchResult:
    from dataclasses import replace

    cost = constraints[0].cost if constraints else additive_cost("mflops", "MFLOPs", flops_table(space, 1000))
    generations = max(0, (evaluations - settings.population) // max(settings.population, 1))
    result = pareto_front(space, fitness, cost, constraints, replace(settings, generations=generations))
    history = SearchHistory()
    history.add(0, result.front, result.accuracy)  # the front; the evaluations are counted below
    best = int(np.argmax(result.accuracy))
    return SearchResult(result.front.take([best]), float(result.accuracy[best]), history, result.seconds,
                        result.evaluations)
