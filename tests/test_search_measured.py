"""The measured fitness (bench/strategies.py --measured): each distinct network is measured once, with the numbers
SubnetEvaluator gives, and it is what a strategy's search maximises."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import TINY
from ofa import get_space
from ofa.cost_table import flops_table
from ofa.data import open_dataset
from ofa.population import Population
from ofa.search.accuracy_table import SubnetEvaluator
from ofa.search.constraints import Constraint, additive_cost
from ofa.search.evolution import EvolutionSettings
from ofa.search.measured import MeasuredFitness
from ofa.search.population import sample
from ofa.search.strategies import run_strategy


class CountingEvaluator(SubnetEvaluator):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def evaluate(self, cfg):
        self.calls.append(cfg)
        return super().evaluate(cfg)


@pytest.fixture
def evaluator(tiny_supernet):
    return CountingEvaluator(tiny_supernet, open_dataset("builtin"), calib_images=16, batch_size=16, max_val_images=40)


def test_each_distinct_network_is_measured_once_with_the_evaluators_top1(evaluator):
    space = get_space(TINY)
    pop = sample(space, 4, np.random.default_rng(0), np.arange(len(space.resolutions)))
    fitness = MeasuredFitness(evaluator, space)
    repeated = Population.concat([pop, pop.take([2, 0])])
    scores = fitness(repeated)
    assert len(evaluator.calls) == fitness.measured == len({c.canonical(space) for c in pop.configs(space)})
    assert scores[4] == scores[2] and scores[5] == scores[0]
    expected = [evaluator.evaluate(cfg)["top1"] for cfg in pop.configs(space)]
    assert scores[:4].tolist() == expected
    calls = len(evaluator.calls)
    assert fitness(pop.take([3, 1])).tolist() == [expected[3], expected[1]]  # a later repeat costs nothing
    assert len(evaluator.calls) == calls and fitness.queries == 8
    assert fitness.best()[1] == max(expected)


def test_a_strategy_searches_on_the_measured_fitness(evaluator):
    space = get_space(TINY)
    flops = additive_cost("mflops", "MFLOPs", flops_table(space, 10))
    fitness = MeasuredFitness(evaluator, space)
    result = run_strategy("random", space, fitness, [Constraint(flops, float("inf"))],
                          EvolutionSettings(population=4, seed=0), 6)
    assert 0 < fitness.measured <= 6 and fitness.queries == result.evaluations
    best_cfg, best_top1 = fitness.best()
    assert result.fitness == best_top1  # the search's best is the best network it measured
    assert result.best.configs(space)[0].canonical(space) in fitness.cache
