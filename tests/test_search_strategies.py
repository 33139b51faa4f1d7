"""Every search strategy on one problem: it meets the constraints, is deterministic for a seed, spends at most
its evaluation budget, fails fast on an infeasible budget, and finds the optimum of an enumerable space."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TINY
from ofa import InfeasibleError, get_space
from ofa.cost_table import flops_table
from ofa.errors import ConfigError
from ofa.search.constraints import Constraint, additive_cost
from ofa.search.evolution import EvolutionSettings
from ofa.search.strategies import STRATEGIES, run_strategy
from test_search_core import _synthetic_accuracy, all_configs

SETTINGS = EvolutionSettings(population=40, generations=60, seed=0)
EVALUATIONS = {"bayesian": 400}  # TPE models every past trial: a smaller budget keeps the test short


@pytest.fixture(scope="module")
def problem():
    tiny = get_space(TINY)
    everything = all_configs(tiny)
    flops = additive_cost("mflops", "MFLOPs", flops_table(tiny, 10))
    budget = float(np.median(flops(everything)))
    fitness = _synthetic_accuracy(tiny)
    optimum = fitness(everything)[flops(everything) <= budget].max()
    return tiny, fitness, flops, budget, float(optimum)


@pytest.mark.parametrize("name", STRATEGIES)
def test_strategy_meets_the_budget_is_seeded_and_finds_the_optimum(problem, name):
    tiny, fitness, flops, budget, optimum = problem
    evaluations = EVALUATIONS.get(name, 2440)
    a = run_strategy(name, tiny, fitness, [Constraint(flops, budget)], SETTINGS, evaluations)
    b = run_strategy(name, tiny, fitness, [Constraint(flops, budget)], SETTINGS, evaluations)
    assert flops(a.best)[0] <= budget
    assert all((flops(pop) <= budget).all() for pop in a.history.members)  # every scored candidate was feasible
    assert a.best.configs(tiny) == b.best.configs(tiny) and a.fitness == b.fitness
    assert a.evaluations <= evaluations + SETTINGS.population  # nsga2/evolution round to whole generations
    assert a.fitness >= optimum - 0.02 * abs(optimum), (name, a.fitness, optimum)


@pytest.mark.parametrize("name", STRATEGIES)
def test_infeasible_budget_fails_fast_for_every_strategy(problem, name):
    tiny, fitness, flops, _, _ = problem
    smallest, _ = flops.minimum()
    with pytest.raises(InfeasibleError, match=f"{smallest:.4g}"):
        run_strategy(name, tiny, fitness, [Constraint(flops, smallest * 0.9)], SETTINGS, 200)


def test_unknown_strategy_and_empty_budget_are_config_errors(problem):
    tiny, fitness, flops, budget, _ = problem
    with pytest.raises(ConfigError, match="choose one of"):
        run_strategy("annealing", tiny, fitness, [Constraint(flops, budget)], SETTINGS)
    with pytest.raises(ConfigError, match="at least one evaluation"):
        run_strategy("random", tiny, fitness, [Constraint(flops, budget)], SETTINGS, 0)
