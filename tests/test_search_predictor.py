"""Accuracy table (real BN-recalibrated evaluation, resumable), predictor, search CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY
from ofa import SubnetConfig, get_space
from ofa.artifacts import ModelInfo, save_supernet
from ofa.cost_table import flops_table
from ofa.data import open_dataset
from ofa.errors import ConfigError, InfeasibleError
from ofa.search.acc_predictor import AccuracyPredictor, fit, fit_and_evaluate
from ofa.search.accuracy_table import build_accuracy_table
from ofa.search.encoding import encode
from ofa.search.population import sample


def test_predictor_learns_a_ranking_and_round_trips(tmp_path):
    space = get_space(TINY)
    pop = sample(space, 300, np.random.default_rng(0))
    flops = flops_table(space, 10)(pop)
    target = 0.5 + 0.1 * np.log(flops) + 0.02 * (pop.ks[:, 0] == 1)
    configs = pop.configs(space)
    model = fit(space, configs[:250], target[:250], hidden=64, epochs=300)
    pred = model.predict_configs(configs[250:])
    from scipy.stats import kendalltau

    assert kendalltau(pred, target[250:]).statistic > 0.8
    model.save(tmp_path / "p")
    again = AccuracyPredictor.load(tmp_path / "p")
    np.testing.assert_allclose(again.predict_configs(configs[250:]), pred, rtol=1e-6)


def test_fit_report_has_curve_and_flops_baseline():
    import pandas as pd

    space = get_space(TINY)
    pop = sample(space, 120, np.random.default_rng(1))
    flops = flops_table(space, 10)(pop)
    table = pd.DataFrame({"subnet": [c.to_json() for c in pop.configs(space)], "top1": 0.3 + 0.05 * np.log(flops),
                          "mflops": flops})
    model = fit_and_evaluate(space, table, curve=(30, 60), hidden=64, epochs=150)
    report = model.report
    assert [c["n_train"] for c in report["curve"]] == [30, 60, 96]
    assert report["flops_baseline"]["kendall_tau"] == pytest.approx(1.0)
    assert report["held_out"]["rmse_pct"] >= 0


def test_ensemble_spread_includes_the_held_out_error_and_survives_save_load(tmp_path):
    import pandas as pd

    space = get_space(TINY)
    pop = sample(space, 60, np.random.default_rng(2))
    flops = flops_table(space, 10)(pop)
    noise = np.random.default_rng(3).normal(0, 0.02, len(pop))
    table = pd.DataFrame({"subnet": [c.to_json() for c in pop.configs(space)], "top1": 0.5 + 0.05 * np.log(flops) + noise,
                          "mflops": flops})
    model = fit_and_evaluate(space, table, curve=(), hidden=32, epochs=100, members=3)
    assert len(model.members) == 3 and model.residual_std == pytest.approx(model.report["held_out"]["rmse_pct"] / 100)
    mean, spread = model.predict_with_spread(pop)
    assert np.all(spread >= model.residual_std - 1e-9) and np.all(model.lower_bound(pop) < mean)
    assert np.allclose(mean, np.mean([model._member(w, encode(space, pop)) for w in model.members], axis=0))
    model.save(tmp_path / "p")
    again = AccuracyPredictor.load(tmp_path / "p")
    assert len(again.members) == 3 and again.residual_std == pytest.approx(model.residual_std)
    np.testing.assert_allclose(again.predict_with_spread(pop)[1], spread, rtol=1e-5)


def test_accuracy_table_is_real_and_resumes(tmp_path, tiny_supernet):
    source = open_dataset("builtin")
    calls = []
    first = build_accuracy_table(tiny_supernet, source, tmp_path, 3, "h", calib_images=100,
                                 on_row=lambda done, total: calls.append(done))
    assert len(first) == 3 and calls == [1, 2, 3]
    assert first["top1"].between(0, 1).all() and first["val_images"].eq(len(source.split("val").labels)).all()
    calls.clear()
    second = build_accuracy_table(tiny_supernet, source, tmp_path, 5, "h", calib_images=100,
                                  on_row=lambda done, total: calls.append(done))
    assert calls == [4, 5]  # only the missing rows were measured
    assert second.iloc[:3]["top1"].tolist() == first["top1"].tolist()
    # a table made from another supernet is not silently extended
    from ofa import ArtifactError

    with pytest.raises(ArtifactError, match="other settings"):
        build_accuracy_table(tiny_supernet, source, tmp_path, 5, "other-hash", calib_images=100)


@pytest.fixture(scope="module")
def search_dirs(tmp_path_factory):
    """A saved tiny supernet plus an accuracy predictor fitted on a synthetic table (fast)."""
    import pandas as pd

    from conftest import randomize
    from ofa.nn.supernet import OFASupernet

    root = tmp_path_factory.mktemp("search")
    space = get_space(TINY)
    save_supernet(randomize(OFASupernet(space, 10)), root / "super", ModelInfo(num_classes=10))
    pop = sample(space, 80, np.random.default_rng(2))
    flops = flops_table(space, 10)(pop)
    table = pd.DataFrame({"subnet": [c.to_json() for c in pop.configs(space)], "top1": 0.2 + 0.1 * np.log(flops),
                          "mflops": flops})
    fit_and_evaluate(space, table, curve=(), hidden=64, epochs=100).save(root / "acc")
    return root


def _search(root, *args):
    return subprocess.run([sys.executable, "-m", "ofa.cli.main", "search", "--supernet", str(root / "super"),
                           "--acc-predictor", str(root / "acc"), "--generations", "30", *args],
                          capture_output=True, text=True)


def test_search_cli_flops_budget_and_outputs(search_dirs, tmp_path):
    proc = _search(search_dirs, "--flops-m", "3", "--json", "--out", str(tmp_path / "res"))
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert len(rows) == 1 and rows[0]["mflops"] <= 3
    cfg = SubnetConfig.load(tmp_path / "res" / rows[0]["subnet_file"])
    assert cfg.to_dict() == rows[0]["subnet"]
    assert (tmp_path / "res" / "history.csv").stat().st_size > 0


def test_search_cli_impossible_budget_exits_with_the_minimum(search_dirs):
    proc = _search(search_dirs, "--flops-m", "0.01")
    assert proc.returncode == InfeasibleError.exit_code
    assert "smallest reachable" in proc.stdout + proc.stderr


def test_search_cli_strategy_and_evaluation_budget(search_dirs):
    proc = _search(search_dirs, "--flops-m", "3", "--strategy", "aging", "--evaluations", "300", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]["strategy"] == "aging" and rows[0]["mflops"] <= 3 and rows[0]["evaluations"] <= 300
    bad = _search(search_dirs, "--strategy", "annealing")
    assert bad.returncode == ConfigError.exit_code and "is not one of" in bad.stderr


NOTE10 = "ofa_mbv3_d234_e346_k357_w1.2"


@pytest.fixture(scope="module")
def note10(tmp_path_factory):
    from conftest import SHARED

    src = SHARED / "data" / "ofa_latency_luts" / "note10"
    if not src.is_dir():
        pytest.skip(f"OFA Note10 tables not found at {src}")
    from latency import import_ofa_tables

    out = tmp_path_factory.mktemp("note10")
    import_ofa_tables(src, out)
    return out


def _note10_problem(note10):
    import pandas as pd

    from ofa.search.api import SearchProblem
    from ofa.search.latency_costs import load_latency_cost

    space = get_space(NOTE10)
    pop = sample(space, 60, np.random.default_rng(3))
    flops = flops_table(space, 1000)(pop)
    table = pd.DataFrame({"subnet": [c.to_json() for c in pop.configs(space)], "top1": 0.6 + 0.05 * np.log(flops),
                          "mflops": flops})
    acc = fit_and_evaluate(space, table, curve=(), hidden=32, epochs=60)
    name, cost = load_latency_cost(str(note10), space)
    return SearchProblem(space, acc, 1000, {name: cost}), name


def test_lut_cost_equals_the_latency_predictor(note10):
    from latency import load_predictor

    problem, name = _note10_problem(note10)
    cost = problem.latency[name]
    pop = sample(problem.space, 50, np.random.default_rng(0), cost.r_allowed)
    expected = load_predictor(note10).predict(pop.configs(problem.space)).mean_ms
    np.testing.assert_allclose(cost(pop), expected, rtol=1e-9)


def test_search_on_note10_budgets_and_impossible_budget(note10):
    from latency import load_predictor
    from ofa.search.api import search_many
    from ofa.search.evolution import EvolutionSettings
    from ofa.search.result import SearchOutcome

    problem, name = _note10_problem(note10)
    rows, _ = search_many(problem, {name: [20.0, 30.0, 5.0]}, EvolutionSettings(population=50, generations=40))
    ok, impossible = rows[:2], rows[2]
    predictor = load_predictor(note10)
    for row in ok:
        cfg = SubnetConfig.from_dict(row.best.subnet)
        assert cfg.r in (160, 176, 192, 208, 224)  # only resolutions the table covers
        latency = float(predictor.predict([cfg]).mean_ms[0])
        assert latency <= row.latency_budget_ms and latency == pytest.approx(row.best.latency(name).mean)
    assert ok[1].best.predicted_top1 >= ok[0].best.predicted_top1  # a looser budget is never worse
    assert not impossible.feasible and impossible.best is None
    assert impossible.min_latency_ms == pytest.approx(9.89, abs=0.01)
    assert "smallest reachable is 9.89" in impossible.reason
    assert impossible.fastest.latency(name).mean == pytest.approx(impossible.min_latency_ms)
    for row in rows:  # the flat JSON rows of search_result.json read back into the same typed rows
        assert SearchOutcome.from_json(json.loads(json.dumps(row.to_json()))) == row



def test_front_points_are_written_to_one_subnet_file_each(tmp_path):
    """A Pareto front has no budgets: its points are numbered, not all written to one '-nonems' file."""
    from ofa.search.api import write_results
    from ofa.search.result import Candidate, LatencyEstimate

    space = get_space(TINY)
    configs = [SubnetConfig.smallest(space), SubnetConfig.largest(space)]
    rows = [Candidate(c.to_dict(), c.arch_string(space), 0.5 + i, 0.0, {"dev": LatencyEstimate(1.0 + i, 0.1)}, 1.0, 1.0,
                      device="dev") for i, c in enumerate(configs)]
    written = write_results(tmp_path, rows, None, {})
    files = [w["subnet_file"] for w in written]
    assert files == ["subnets/dev-front000.json", "subnets/dev-front001.json"]
    assert [SubnetConfig.load(tmp_path / f, space) for f in files] == configs
