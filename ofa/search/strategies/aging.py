"""Regularized (aging) evolution, as in AmoebaNet (Real et al., AAAI'19), batched for vectorised scoring.

A population of ``settings.population`` networks is a queue, oldest first. Each cycle draws a
tournament of ``sample`` random members per child (``parent_ratio`` of the population, 25 of 100 as in
the paper), mutates each tournament's winner, scores the children, appends them and removes as many of
the *oldest* members, whatever their fitness: good networks must be re-discovered to survive, which
keeps the search from settling on an early lucky one. ``population // 10`` children per cycle keeps
the scoring vectorised; one child per cycle is the paper's setting.
"""

from __future__ import annotations

import time

import numpy as np

from ofa.population import Population
from ofa.search.constraints import Constraint, allowed_resolutions
from ofa.search.evolution import (
    EvolutionSettings,
    MemoizedFitness,
    SearchHistory,
    SearchResult,
    _feasible_children,
    initial_population,
)
from ofa.search.population import mutate
from ofa.search.strategies.common import result_of
from ofa.spaces import SearchSpace


def aging_evolution(space: SearchSpace, fitness, constraints: list[Constraint], settings: EvolutionSettings,
                    evaluations: int) -> SearchResult:
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    r_choices = allowed_resolutions(space, constraints)
    score = MemoizedFitness(space, fitness)
    history = SearchHistory()
    pop = initial_population(space, constraints, settings, rng).take(slice(0, evaluations))
    scores = score(pop)
    history.add(0, pop, scores)
    tournament = max(2, int(round(settings.parent_ratio * len(pop))))
    per_cycle = max(1, settings.population // 10)
    cycle = 0
    while len(history) < evaluations:
        n = min(per_cycle, evaluations - len(history))
        entrants = rng.integers(0, len(pop), (n, tournament))
        winners = pop.take(entrants[np.arange(n), np.argmax(scores[entrants], axis=1)])
        children = _feasible_children(lambda k: mutate(space, winners.take(np.arange(k) % n), settings.mutation_prob,
                                                       rng, r_choices), n, constraints)
        if len(children) == 0:
            break  # the feasible region around the winners is exhausted
        cycle += 1
        child_scores = score(children)
        history.add(cycle, children, child_scores)
        pop = Population.concat([pop.take(slice(len(children), None)), children])  # the oldest die
        scores = np.concatenate([scores[len(children):], child_scores])
    return result_of(history, start)
