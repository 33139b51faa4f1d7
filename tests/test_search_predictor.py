"""Accuracy table (real BN-recalibrated evaluation, resumable), predictor, search CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from ofa import SubnetConfig, get_space
from ofa.artifacts import ModelInfo, save_supernet
from ofa.data import open_dataset
from ofa.search.acc_predictor import AccuracyPredictor, fit, fit_and_evaluate
from ofa.search.accuracy_table import build_accuracy_table
from ofa.search.cost_table import flops_table
from ofa.search.population import Population, sample

from conftest import TINY


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
    assert proc.returncode == 3
    assert "smallest reachable" in proc.stdout + proc.stderr
