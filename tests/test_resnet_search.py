"""OFA-ResNet search from the CLI: ``ofa acc build`` on the imported fixture supernet (10 classes, widths
0.06/0.09/0.12, r 32/48/64), ``ofa search`` under a latency budget of a real local-onnxruntime table (r=32) and a FLOPs
cap, the fail-fast answer to an infeasible budget, and the gene operators the evolution uses on ResNet populations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from devices.spec import DeviceSpec
from latency.api import load_predictor
from latency.profile import build_lut
from ofa.cli.main import app
from ofa.errors import ConfigError, InfeasibleError
from ofa.nn.resnet import resnet_cost
from ofa.resnet_artifacts import read_resnet_config
from ofa.resnet_population import ResNetPopulation, choice_counts
from ofa.search.acc_predictor import AccuracyPredictor
from ofa.search.encoding import encode, feature_size
from ofa.search.population import gene_ops, sample
from ofa.spaces.resnet import ResNetConfig, ResNetSpace

FIXTURE = Path(__file__).parent / "fixtures" / "official_resnet50_w0.06-0.12"
SPACE = {"id": "ofa_resnet50_w0.06-0.12", "w_choices": [0.06, 0.09, 0.12], "resolutions": [32, 48, 64]}
SMALL = ResNetSpace.model_validate(SPACE)
runner = CliRunner()
FAST = {"kind": "onnxruntime", "warmup": 1, "repeats": 3, "rounds": 1, "passes": 1, "max_passes": 1, "threads": 1}
DEVICE = DeviceSpec.from_dict({"name": "tiny-ort", "transport": {"kind": "local"}, "runner": FAST})


def _cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Imported supernet, accuracy table + predictor (6 sub-networks), and a latency table at r=32."""
    root = tmp_path_factory.mktemp("resnet_search")
    build_lut(DEVICE, SMALL, [32], root / "lut", num_classes=10, chunk_size=64)  # before the CLI calls (their logging)
    (root / "space.json").write_text(json.dumps(SPACE))
    imported = _cli("import-official", FIXTURE / "supernet_state_dict.pt", "--out", root / "supernet",
                    "--space", root / "space.json")
    assert imported.exit_code == 0, imported.output
    acc = _cli("acc", "build", "--supernet", root / "supernet", "--data", "builtin", "--samples", 6,
               "--calib-images", 16, "--epochs", 30, "--out", root / "acc")
    return root, acc


def test_acc_build_measures_resnet_subnetworks_and_fits_a_predictor(built):
    root, acc = built
    assert acc.exit_code == 0, acc.output
    import pandas as pd

    table = pd.read_csv(root / "acc" / "acc_table.csv")
    configs = [ResNetConfig.from_json(s, SMALL) for s in table["subnet"]]
    assert len(configs) == 6 and sorted({c.r for c in configs}) == [32, 48, 64]  # resolutions cycle
    assert table["top1"].between(0, 1).all() and (table["val_images"] > 0).all()
    np.testing.assert_allclose(table["mflops"], [resnet_cost(SMALL, c, 10).mflops for c in configs])
    predictor = AccuracyPredictor.load(root / "acc")
    assert predictor.space == SMALL and feature_size(SMALL) == 5 * 3 + 18 * 3 + 6 * 3 + 3
    predicted = predictor.predict_configs(configs)
    assert np.isfinite(predicted).all() and predicted.std() > 0


def test_search_meets_a_latency_budget_and_a_flops_cap_with_a_resnet_subnetwork(built):
    root, _ = built
    latency = load_predictor(root / "lut")
    fastest, _ = latency.additive().minimum()
    largest = latency.predict(ResNetConfig.largest(SMALL, r=32)).mean_ms[0]
    budget = round(fastest + 0.4 * (largest - fastest), 4)
    result = _cli("search", "--supernet", root / "supernet", "--acc-predictor", root / "acc", "--device", root / "lut",
                  "--latency-ms", budget, "--flops-m", 1.5, "--population", 30, "--generations", 20, "--json",
                  "--out", root / "search")
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)[0]
    assert row["feasible"] and row["device"] == "tiny-ort"
    cfg = read_resnet_config(root / "search" / row["subnet_file"], SMALL)
    assert cfg.r == 32  # the only resolution the table covers
    predicted = latency.predict(cfg).mean_ms[0]
    assert predicted <= budget and row["latency_ms"]["tiny-ort"]["mean"] == pytest.approx(predicted)
    assert resnet_cost(SMALL, cfg, 10).mflops == pytest.approx(row["mflops"]) and row["mflops"] <= 1.5
    # better than what random feasible sampling finds with the same predictor
    accuracy = AccuracyPredictor.load(root / "acc")
    pop = sample(SMALL, 2000, np.random.default_rng(1), np.array([0]))
    flops = np.array([resnet_cost(SMALL, c, 10).mflops for c in pop.configs()])
    ok = (latency.additive()(pop) <= budget) & (flops <= 1.5)
    assert ok.sum() > 10 and row["predicted_top1"] >= accuracy(pop.take(np.flatnonzero(ok))).max() - 1e-9
    extracted = _cli("extract", root / "supernet", "--subnet", root / "search" / row["subnet_file"],
                     "--out", root / "sub")
    assert extracted.exit_code == 0, extracted.output


def test_infeasible_budget_fails_fast_naming_the_smallest_reachable_latency(built):
    root, _ = built
    fastest, pop = load_predictor(root / "lut").additive().minimum()
    result = _cli("search", "--supernet", root / "supernet", "--acc-predictor", root / "acc", "--device", root / "lut",
                  "--latency-ms", round(fastest / 2, 6), "--out", root / "infeasible")
    assert result.exit_code == InfeasibleError.exit_code and "min reachable" in result.output, result.output
    row = json.loads((root / "infeasible" / "search_result.json").read_text())["results"][0]
    assert not row["feasible"] and row["min_latency_ms"] == pytest.approx(fastest)
    assert row["fastest"]["subnet"] == pop.configs()[0].to_dict()


def test_lut_validate_scores_the_resnet_predictors_on_networks_timed_end_to_end(built):
    """``ofa lut validate`` on a ResNet table: 10 whole networks timed, block sum and cross-validated calibrated sum."""
    from latency.validate import validate_lut

    root, _ = built
    report = validate_lut(root / "lut", DEVICE, n=10)
    assert set(report["predictors"]) == {"block_sum", "calibrated_sum"} and report["n"] == 10
    for scores in report["predictors"].values():
        assert 0 <= scores["within_10pct"] <= 1 and np.isfinite(scores["rmse_pct"])
    saved = json.loads((root / "lut" / "validation.json").read_text())
    assert saved["space"] == SMALL.id and saved["measured_ms"]["min"] > 0


def test_other_strategies_and_pareto_refuse_a_resnet_space_with_a_config_error(built):
    root, _ = built
    common = ["search", "--supernet", root / "supernet", "--acc-predictor", root / "acc", "--device", root / "lut"]
    for extra in (["--strategy", "aging", "--latency-ms", 1], ["--pareto"]):
        result = _cli(*common, *extra)
        assert result.exit_code == ConfigError.exit_code and "OFA-ResNet" in result.output, result.output


def test_resnet_gene_operators_stay_within_each_genes_choices_and_encode_one_hot():
    ops, counts, rng = gene_ops(SMALL), choice_counts(SMALL), np.random.default_rng(0)
    genes = ops.sample(500, rng, np.array([1, 2]))
    assert ((genes >= 0) & (genes < counts)).all() and set(genes[:, -1]) == {1, 2}
    mutated = ops.mutate(genes, 0.1, rng, None)
    assert ((mutated >= 0) & (mutated < counts)).all() and 0.05 < (mutated != genes).mean() < 0.1
    crossed = ops.crossover(genes, mutated, rng)
    assert ((crossed == genes) | (crossed == mutated)).all()
    pop = ops.view(genes)
    features = encode(SMALL, pop)
    active = sum(len(c.active_blocks(SMALL)) for c in pop.configs())
    assert features.sum() == len(pop) * (5 + 6 + 1) + active  # one hot per d, w, r and per running block's e
    stem_d0 = [ResNetConfig((0,) + c.d[1:], c.e, c.w, c.r, c.space) if c.d[0] == 1 else c for c in pop.configs()]
    same = ResNetPopulation.from_configs(SMALL, stem_d0)
    np.testing.assert_array_equal(same.key_rows(), pop.key_rows())  # stem d 0 and 1 both skip: the same network
