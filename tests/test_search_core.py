"""Populations, additive cost tables, encoding, evolution and NSGA-II on exhaustively checkable spaces."""

import itertools
import time

import numpy as np
import pytest

from conftest import MBV3, TINY
from ofa import InfeasibleError, SubnetConfig, get_space
from ofa.complexity import subnet_cost
from ofa.cost_table import flops_table, params_table
from ofa.population import Population
from ofa.search.constraints import Constraint, additive_cost
from ofa.search.encoding import encode, feature_size
from ofa.search.evolution import EvolutionSettings, evolve
from ofa.search.nsga2 import front_2d, hypervolume_2d, non_dominated_ranks, pareto_front
from ofa.search.population import crossover, mutate, sample

QUICK = EvolutionSettings(population=40, generations=60, seed=0)


def all_configs(space):
    """Every distinct architecture of a (tiny) space, unused slots at the first choice."""
    per_stage = []
    for d_idx, d in enumerate(space.d_choices):
        for genes in itertools.product(range(len(space.ks_choices) * len(space.e_choices)), repeat=d):
            per_stage.append((d_idx, genes))
    rows = []
    for stages in itertools.product(per_stage, repeat=space.n_stages):
        ks = np.zeros(space.n_block_slots, int)
        e = np.zeros(space.n_block_slots, int)
        for s, (_, genes) in enumerate(stages):
            for i, g in enumerate(genes):
                ks[s * space.max_depth + i], e[s * space.max_depth + i] = divmod(g, len(space.e_choices))
        rows.append((ks, e, [d for d, _ in stages]))
    n, R = len(rows), len(space.resolutions)
    return Population(np.repeat(np.array([r[0] for r in rows]), R, 0), np.repeat(np.array([r[1] for r in rows]), R, 0),
                      np.repeat(np.array([r[2] for r in rows]), R, 0), np.tile(np.arange(R), n))


@pytest.fixture(scope="module")
def tiny():
    return get_space(TINY)


@pytest.fixture(scope="module")
def everything(tiny):
    return all_configs(tiny)


def test_population_round_trip_and_operators_stay_in_space(tiny):
    rng = np.random.default_rng(0)
    pop = sample(tiny, 30, rng)
    configs = pop.configs(tiny)
    back = Population.from_configs(tiny, configs)
    assert all(np.array_equal(getattr(pop, f), getattr(back, f)) for f in ("ks", "e", "d", "r"))
    for child in mutate(tiny, pop, 0.5, rng).configs(tiny) + crossover(pop, pop.take(slice(None, None, -1)), rng).configs(tiny):
        child.validate(tiny)


@pytest.mark.parametrize("space_id", [TINY, MBV3, "ofa_proxyless_d234_e346_k357_w1.3", "ofa_tiny_proxyless_in32_d12_e34_k35_w1.0"])
def test_cost_tables_equal_per_config_counts(space_id):
    space = get_space(space_id)
    pop = sample(space, 40, np.random.default_rng(1))
    flops, params = flops_table(space, 10)(pop), params_table(space, 10)(pop)
    for i, cfg in enumerate(pop.configs(space)):
        cost = subnet_cost(space, cfg, 10)
        assert flops[i] == pytest.approx(cost.mflops, abs=1e-9)
        assert params[i] == pytest.approx(cost.params_m, abs=1e-12)


def test_table_minimum_is_the_exhaustive_minimum(tiny, everything):
    table = flops_table(tiny, 10)
    value, pop = table.minimum()
    assert value == pytest.approx(table(everything).min())
    assert table(pop)[0] == pytest.approx(value)


def test_encoding_masks_skipped_blocks(tiny):
    cfg = SubnetConfig.sample(tiny, 0, d=(1,))
    x = encode(tiny, Population.from_configs(tiny, [cfg]))
    assert x.shape == (1, feature_size(tiny))
    per_slot = len(tiny.ks_choices) + len(tiny.e_choices)
    blocks = x[0, : tiny.n_block_slots * per_slot].reshape(tiny.n_block_slots, per_slot)
    active = set(cfg.active_slots(tiny))
    for slot in range(tiny.n_block_slots):
        assert blocks[slot].sum() == (2 if slot in active else 0)
    assert x[0, -len(tiny.resolutions):].sum() == 1


def _synthetic_accuracy(space):
    """A fitness with structure (bigger is better, kernel 5 in late stages helps) to search on."""
    flops = flops_table(space, 10)
    return lambda pop: np.log(flops(pop)) + 0.05 * (pop.ks[:, -2:] == 1).sum(axis=1)


@pytest.mark.parametrize("distinct", [False, True])
def test_evolution_meets_budget_is_seeded_and_near_exhaustive_optimum(tiny, everything, distinct):
    fitness = _synthetic_accuracy(tiny)
    flops = additive_cost("mflops", "MFLOPs", flops_table(tiny, 10))
    budget = float(np.median(flops(everything)))
    settings = EvolutionSettings(population=40, generations=60, seed=0, distinct_parents=distinct)
    a = evolve(tiny, fitness, [Constraint(flops, budget)], settings)
    b = evolve(tiny, fitness, [Constraint(flops, budget)], settings)
    assert flops(a.best)[0] <= budget
    assert a.best.configs(tiny) == b.best.configs(tiny) and a.fitness == b.fitness
    ok = flops(everything) <= budget
    optimum = fitness(everything)[ok].max()
    assert a.fitness >= optimum - 0.02 * abs(optimum)


def test_infeasible_budget_fails_fast_naming_the_minimum(tiny):
    flops = additive_cost("mflops", "MFLOPs", flops_table(tiny, 10))
    smallest, _ = flops.minimum()
    start = time.perf_counter()
    with pytest.raises(InfeasibleError) as err:
        evolve(tiny, _synthetic_accuracy(tiny), [Constraint(flops, smallest * 0.9)], QUICK)
    assert time.perf_counter() - start < 2
    assert f"{smallest:.4g}" in str(err.value) and '"ks"' in str(err.value)


def test_budget_at_exact_minimum_is_found(tiny):
    flops = additive_cost("mflops", "MFLOPs", flops_table(tiny, 10))
    smallest, _ = flops.minimum()
    result = evolve(tiny, _synthetic_accuracy(tiny), [Constraint(flops, smallest + 1e-9)], QUICK)
    assert flops(result.best)[0] == pytest.approx(smallest)


def test_non_dominated_ranks_match_brute_force():
    obj = np.random.default_rng(0).random((60, 2))
    ranks = non_dominated_ranks(obj)
    for i in range(60):
        dominated = any((obj[j] <= obj[i]).all() and (obj[j] < obj[i]).any() for j in range(60))
        assert (ranks[i] == 0) == (not dominated)
    assert set(front_2d(obj)) == set(np.flatnonzero(ranks == 0))


def test_pareto_front_covers_most_of_the_exhaustive_hypervolume(tiny, everything):
    fitness = _synthetic_accuracy(tiny)
    flops = flops_table(tiny, 10)
    result = pareto_front(tiny, fitness, flops, [], EvolutionSettings(population=60, generations=80, seed=0))
    all_acc, all_cost = fitness(everything), flops(everything)
    ref_cost, ref_acc = all_cost.max() * 1.01, all_acc.min()
    exhaustive = hypervolume_2d(all_acc, all_cost, ref_cost, ref_acc)
    found = hypervolume_2d(result.accuracy, result.cost, ref_cost, ref_acc)
    assert found / exhaustive > 0.97
    assert np.all(np.diff(result.cost) >= 0) and np.all(np.diff(result.accuracy) > 0)  # a real front


def test_parents_are_distinct_architectures_repeats_only_fill_in():
    from ofa.search.evolution import _best_distinct

    scores, keys = np.array([0.9, 0.95, 0.9, 0.8, 0.95]), [b"a", b"b", b"a", b"c", b"b"]
    assert _best_distinct(scores, keys, 3) == [1, 0, 3]  # the second copies of b and a wait behind c
    assert _best_distinct(scores, keys, 5) == [1, 0, 3, 4, 2]  # only 3 distinct: repeats fill, best first


def test_gene_matrix_operators_draw_like_population_operators(tiny):
    from ofa.search.population import as_population, genes_of, mutate_genes, sample_genes

    pop = sample(tiny, 25, np.random.default_rng(1))
    assert np.array_equal(genes_of(as_population(tiny, genes_of(pop))), genes_of(pop))
    via_pop = mutate(tiny, pop, 0.3, np.random.default_rng(2))
    via_genes = mutate_genes(tiny, genes_of(pop), 0.3, np.random.default_rng(2))
    assert np.array_equal(genes_of(via_pop), via_genes) and not np.array_equal(via_genes, genes_of(pop))
    # the four fields are drawn one after the other from one stream: r first, then ks, e, d
    rng = np.random.default_rng(3)
    r, ks = rng.integers(0, len(tiny.resolutions), 4), rng.integers(0, len(tiny.ks_choices), (4, tiny.n_block_slots))
    genes = sample_genes(tiny, 4, np.random.default_rng(3))
    assert np.array_equal(genes[:, -1], r) and np.array_equal(genes[:, :tiny.n_block_slots], ks)


def test_predictor_inference_runs_blas_on_one_thread_and_restores_it():
    from threadpoolctl import threadpool_info

    from ofa.search.acc_predictor import one_blas_thread

    def numpy_blas() -> list[int]:
        return [lib["num_threads"] for lib in threadpool_info()
                if lib["user_api"] == "blas" and "numpy" in lib["filepath"]]

    before = numpy_blas()
    assert before, "numpy's BLAS not found by threadpoolctl"
    with one_blas_thread():
        assert numpy_blas() == [1] * len(before)
    assert numpy_blas() == before


def test_search_rows_round_trip_through_their_json_form():
    import json

    import pytest

    from ofa.errors import ConfigError
    from ofa.search.result import Candidate, LatencyEstimate, SearchOutcome

    cand = Candidate({"ks": [3], "e": [4], "d": [1], "r": 32}, "r32|34", 0.8, 0.01,
                     {"dev": LatencyEstimate(1.5, 0.1)}, 2.0, 0.3)
    front_row = cand.with_context(device="dev")  # a Pareto row: the candidate and its device
    assert list(front_row.to_json())[-1] == "device" and Candidate.from_json(front_row.to_json()) == front_row
    assert front_row.latency("dev").mean == 1.5 and cand.device is None
    ok = SearchOutcome("dev", 2.0, cand, 0.5, 300, "evolution")
    missed = SearchOutcome("dev", 0.1, reason="too fast", min_latency_ms=1.5, fastest=cand)
    for row in (ok, missed):
        assert SearchOutcome.from_json(json.loads(json.dumps(row.to_json()))) == row
    assert ok.to_json()["feasible"] and ok.to_json()["latency_ms"] == {"dev": {"mean": 1.5, "std": 0.1}}
    assert not missed.feasible and missed.to_json()["fastest"]["arch"] == "r32|34"
    with pytest.raises(ConfigError, match="no latency prediction for device 'other'"):
        cand.latency("other")
    with pytest.raises(ConfigError, match="not a search row"):
        Candidate.from_json({"arch": "r32|34"})
