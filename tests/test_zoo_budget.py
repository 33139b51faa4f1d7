"""The zoo's promises in isolation: the closed budget loop, measured top-K selection, budget validation."""

import math

import pytest

from ofa.errors import ConfigError, InfeasibleError
from ofa.search.result import Candidate, LatencyEstimate
from ofa.zoo.budget import TIGHTEN, meet_budget
from ofa.zoo.config import load_zoo_config
from ofa.zoo.select import pick_by_measured


def test_a_device_slower_than_predicted_gets_a_tighter_target_then_ok():
    targets = []

    def attempt(index, target):  # a device 30 % slower than every prediction
        targets.append(target)
        return 1.3 * target, f"build {index}"

    outcome = meet_budget(10.0, 0.05, 3, attempt)
    assert outcome.status == "ok" and outcome.chosen.result == "build 1"
    assert targets[0] == pytest.approx(9.5)
    assert targets[1] == pytest.approx(9.5 * 9.5 / (1.3 * 9.5) * TIGHTEN)
    assert outcome.chosen.measured_ms <= outcome.limit_ms


def test_a_device_that_stays_over_ends_over_budget_after_n_rounds():
    targets = []

    def attempt(index, target):
        targets.append(target)
        return 12.0 - 0.5 * index, index  # always above the 9.5 ms limit

    outcome = meet_budget(10.0, 0.05, 4, attempt)
    assert outcome.status == "over_budget" and len(outcome.rounds) == 4
    assert all(b < a for a, b in zip(targets, targets[1:]))
    assert outcome.chosen.measured_ms == 10.5  # the fastest round is kept
    assert "10.5 ms > limit 9.5 ms" in outcome.reason and "4 round(s)" in outcome.reason


def test_an_unreachable_tighter_target_ends_the_loop_over_budget():
    def attempt(index, target):
        if index:
            raise InfeasibleError("smallest reachable is 9.4 ms")
        return 11.0, None

    outcome = meet_budget(10.0, 0.05, 3, attempt)
    assert outcome.status == "over_budget" and len(outcome.rounds) == 1 and "9.4 ms" in outcome.reason


def test_an_infeasible_budget_propagates_from_the_first_round():
    def attempt(index, target):
        raise InfeasibleError("nothing that fast")

    with pytest.raises(InfeasibleError):
        meet_budget(1.0, 0.05, 3, attempt)


class _Evaluator:
    """Measured accuracy per arch; counts how many candidates were really evaluated."""

    def __init__(self, measured):
        self.measured, self.calls = measured, 0

    def prepare(self, cfg):
        return cfg

    def accuracy(self, net, r):
        self.calls += 1
        return {"top1": self.measured[net.ks], "loss": 0.0, "val_images": 10}


def test_the_best_measured_candidate_wins_over_the_best_predicted():
    from ofa.spaces import get_space
    from ofa.subnet import SubnetConfig

    space = get_space("ofa_tiny_in32_d12_e34_k35_w1.0")
    configs = [SubnetConfig.sample(space, seed) for seed in range(3)]
    rows = [Candidate(c.to_dict(), c.arch_string(space), p, 0.01, {"dev": LatencyEstimate(1.0 + i, 0.1)}, 1.0, 0.1,
                      rank=i) for i, (c, p) in enumerate(zip(configs, [0.9, 0.8, 0.7]))]
    evaluator = _Evaluator({configs[0].ks: 0.6, configs[1].ks: 0.85, configs[2].ks: 0.7})
    row, _, accuracy, table = pick_by_measured(evaluator, space, rows)
    assert evaluator.calls == 3 and row.rank == 1 and row is rows[1] and accuracy["top1"] == 0.85
    assert [t["top1"] for t in table] == [0.6, 0.85, 0.7]
    assert [t["latency_predicted_ms"] for t in table] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("budgets", [[], [0], [-1.5], [math.nan], [math.inf], [1.0, 0.0]])
def test_budgets_that_are_not_positive_finite_numbers_are_config_errors(budgets):
    with pytest.raises(ConfigError, match="budgets_ms"):
        load_zoo_config(None, {"devices": [{"device": "local-ort-cpu", "budgets_ms": budgets}]})


def test_an_unknown_latency_statistic_is_a_config_error():
    with pytest.raises(ConfigError, match="latency_stat"):
        load_zoo_config(None, {"devices": [{"device": "local-ort-cpu", "latency_stat": "p42"}]})


def test_a_target_below_the_fastest_network_is_clamped_once_then_the_loop_ends():
    targets = []

    def attempt(index, target):
        targets.append(target)
        return 2 * target, None  # always twice the prediction

    outcome = meet_budget(10.0, 0.05, 5, attempt, floor_ms=5.0)
    assert targets == [pytest.approx(9.5), 5.0] and outcome.status == "over_budget"  # 4.66 clamped to 5
    assert "even for the fastest predicted" in outcome.reason
