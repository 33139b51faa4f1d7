"""Latency from end-to-end timings alone: measure -> fit -> search from the CLI with no table anywhere,
measurement files (bad rows named by line), the predictor artifact (hash-checked), the family choice."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import TINY, W10
from latency.fit import fit_model
from latency.fit_features import feature_tables
from latency.fitted import FittedLatencyPredictor
from latency.index import BlockIndex
from latency.measurements import Measurements, read_measurements
from latency.sampling import d_optimal_sample, stratified_sample
from ofa.cli.main import app
from ofa.errors import ArtifactError, ConfigError, DataError
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig
from test_bad_input_support import write_acc_predictor, write_supernet

FIXTURES = Path(__file__).parent / "fixtures_devices"
runner = CliRunner()
FAST_DEVICE = """name: fast-ort
transport: {kind: local}
runner: {kind: onnxruntime, threads: 1, warmup: 3, repeats: 15, rounds: 1, passes: 1, max_passes: 1, drift_anchor: true}
"""


def _cli(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def test_measure_fit_search_from_the_cli_with_no_table(tmp_path):
    device = tmp_path / "fast-ort.yaml"
    device.write_text(FAST_DEVICE)
    measured = tmp_path / "m.csv"
    result = _cli("device", "measure", device, "--space", TINY, "--n", 10, "--out", measured, "--num-classes", 10)
    assert result.exit_code == 0, result.output
    rows = measured.read_text().splitlines()
    assert len(rows) == 11 and rows[0].startswith("config,arch,r,latency_ms,statistic")
    again = _cli("device", "measure", device, "--space", TINY, "--n", 10, "--out", measured, "--num-classes", 10)
    assert again.exit_code == 0 and measured.read_text().splitlines() == rows  # resumed: nothing re-measured

    fit = _cli("latency", "fit", measured, "--space", TINY, "--out", tmp_path / "pred", "--json")
    assert fit.exit_code == 0, fit.output
    report = json.loads(fit.stdout)
    anchors = [float(r["anchor_ms"]) for r in csv.DictReader(open(measured))]
    assert all(a > 0 for a in anchors) and report["drift_reference_ms"] == pytest.approx(float(np.median(anchors)))
    assert report["n"] == 10 and report["chosen"] in report["families"] and report["resolutions"] == [16, 24, 32]
    assert not list(tmp_path.rglob("lut.csv"))  # no table anywhere

    write_supernet(tmp_path / "supernet")
    write_acc_predictor(tmp_path / "acc")
    search = ["search", "--supernet", tmp_path / "supernet", "--acc-predictor", tmp_path / "acc",
              "--generations", 3, "--population", 8, "--device", tmp_path / "pred"]
    found = _cli(*search, "--latency-ms", 1000, "--json")
    assert found.exit_code == 0, found.output
    row = json.loads(found.stdout)[0]
    assert row["feasible"] and row["device"] == "fast-ort" and row["latency_ms"]["fast-ort"]["std"] > 0
    impossible = _cli(*search, "--latency-ms", 1e-6)
    assert impossible.exit_code == 8 and "min reachable" in impossible.output
    assert _cli("verify", tmp_path / "pred").exit_code == 0
    subnet = tmp_path / "s.json"
    subnet.write_text(json.dumps(row["subnet"]))
    predicted = json.loads(_cli("lut", "predict", tmp_path / "pred", "--subnet", subnet).stdout)
    assert predicted["latency_ms"] == pytest.approx(row["latency_ms"]["fast-ort"]["mean"])
    score = _cli("latency", "score", tmp_path / "pred", measured, "--json")
    assert score.exit_code == 0 and json.loads(score.stdout)["n"] == 10


def _config(i: int) -> SubnetConfig:
    return SubnetConfig.sample(get_space(TINY), i)


@pytest.mark.parametrize("name, text, line, words", [
    ("bad.csv", "arch,latency_ms\n{a},1.5\n{b},fast\n", 3, "not a number"),
    ("neg.csv", "arch,latency_ms\n{a},-2\n", 2, "positive"),
    ("arch.csv", "arch,latency_ms\n{a},1.0\nr32|5.4|3.4,2.0\n", 3, "does not fit space"),
    ("short.csv", "config,latency_ms\n{cfg},1.0\n{cfg}\n", 3, "columns expected"),
    ("stat.csv", "arch,latency_ms,statistic\n{a},1,median\n{b},2,fastest\n", 3, "statistic 'fastest'"),
    ("bad.jsonl", '{{"arch": "{a}", "latency_ms": 1}}\n{{"arch": \n', 2, "not a JSON object"),
    ("list.jsonl", '{{"arch": "{a}", "latency_ms": 1}}\n[1, 2]\n', 2, "expected a JSON object"),
    ("nonet.jsonl", '{{"latency_ms": 1}}\n', 1, "no sub-network"),
    ("log.csv", "arch,log\n{a},missing.txt\n", 2, "does not exist"),
    ("anchor.csv", "arch,latency_ms,anchor_ms\n{a},1,0.2\n{b},1,-1\n", 3, "anchor_ms '-1' must be a positive"),
])
def test_malformed_measurement_rows_are_data_errors_naming_the_line(tmp_path, name, text, line, words):
    space = get_space(TINY)
    a, b = _config(0).arch_string(space), _config(1).arch_string(space)
    cfg = '"' + _config(2).to_json().replace('"', '""') + '"'
    path = tmp_path / name
    path.write_text(text.format(a=a, b=b, cfg=cfg))
    with pytest.raises(DataError, match=f"{name}:{line}: .*{words}"):
        read_measurements(path, space)
    result = _cli("latency", "fit", path, "--space", TINY, "--out", tmp_path / "p")
    assert result.exit_code == DataError.exit_code and f"{name}:{line}" in result.output
    assert not (tmp_path / "p").exists()


def test_rows_with_a_drift_anchor_are_rescaled_to_the_typical_device_state(tmp_path):
    """A network timed while the device ran twice as slow (its anchor too) reads as if timed in the typical state;
    without an anchor on every row, or with compensation off, the raw figures stay."""
    space = get_space(TINY)
    a, b, c = (_config(i).arch_string(space) for i in range(3))
    path = tmp_path / "m.csv"
    path.write_text(f"arch,latency_ms,anchor_ms\n{a},1.0,0.2\n{b},4.0,0.4\n{c},3.0,0.2\n")
    data = read_measurements(path, space)
    assert data.drift_reference_ms == pytest.approx(0.2)
    assert list(data.latency_ms) == pytest.approx([1.0, 2.0, 3.0])
    raw = read_measurements(path, space, drift=False)
    assert raw.drift_reference_ms is None and list(raw.latency_ms) == pytest.approx([1.0, 4.0, 3.0])
    fitted_state = read_measurements(path, space, reference_ms=0.3)  # a predictor fitted where the anchor took 0.3
    assert fitted_state.drift_reference_ms == pytest.approx(0.3)
    assert list(fitted_state.latency_ms) == pytest.approx([1.5, 3.0, 4.5])
    path.write_text(f"arch,latency_ms,anchor_ms\n{a},1.0,0.2\n{b},4.0,\n{c},3.0,nan\n")
    partial = read_measurements(path, space)
    assert partial.drift_reference_ms is None and list(partial.latency_ms) == pytest.approx([1.0, 4.0, 3.0])


def test_mixed_statistics_and_missing_columns_are_refused(tmp_path):
    space = get_space(TINY)
    (tmp_path / "a.csv").write_text(f"arch,latency_ms,statistic\n{_config(0).arch_string(space)},1,median\n")
    (tmp_path / "b.csv").write_text(f"arch,latency_ms,statistic\n{_config(1).arch_string(space)},1,p90\n")
    with pytest.raises(DataError, match="mix statistics"):
        read_measurements([tmp_path / "a.csv", tmp_path / "b.csv"], space)
    (tmp_path / "c.csv").write_text("network,ms\nx,1\n")
    with pytest.raises(DataError, match="c.csv:1: header"):
        read_measurements(tmp_path / "c.csv", space)


def test_vendor_logs_are_read_with_the_device_parsers(tmp_path):
    space = get_space(TINY)
    for fixture in ("trtexec_jetson.txt", "benchmark_model_android.txt"):
        shutil.copy(FIXTURES / fixture, tmp_path / fixture)
    (tmp_path / "t.csv").write_text(f"arch,log\n{_config(0).arch_string(space)},trtexec_jetson.txt\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"config": _config(1).to_dict(), "log": "benchmark_model_android.txt"}))
    trt, bm = read_measurements(tmp_path / "t.csv", space), read_measurements(tmp_path / "b.jsonl", space)
    assert trt.statistic == "median" and bm.statistic == "mean"  # benchmark_model prints no median
    assert 0 < trt.latency_ms[0] < 1e4 and 0 < bm.latency_ms[0] < 1e4
    assert bm.configs[0] == _config(1)


def _synthetic(space_id: str, n: int, seed: int = 0, noise: float = 0.01, family: str = "onehot") -> Measurements:
    """Latency = 0.5 ms + a fixed random cost per feature of ``family`` (default: per (stage, kernel, expand)
    block type, the onehot family's form)."""
    space = get_space(space_id)
    configs = stratified_sample(space, list(space.resolutions), n, seed, 10)
    index = BlockIndex(space, space.resolutions, 10)
    tables, names = feature_tables(index, family)
    x = index.sum(tables, index.encode(configs))
    rng = np.random.default_rng(seed)
    cost = np.where([n.endswith("_x_r2") for n in names], 0.0, rng.uniform(0.05, 1.0, len(names)))
    if family == "detailed":  # a 7x7 depthwise kernel 20x dearer per MAC than a 3x3: analytic cannot say it
        cost = np.where([n.startswith("dw_k") for n in names], [20.0 if n == "dw_k7_mmacs" else 1.0 for n in names],
                        cost)
    if family == "kernel_stride":  # one slow micro-kernel: the largest kernel's strided depthwise
        slow = [n for n in names if n.endswith("_s2_mmacs")][-1]
        cost = np.where([n.endswith("_s2_mmacs") for n in names], [40.0 if n == slow else 0.0 for n in names], cost)
    y = (0.5 + x @ cost) * np.exp(rng.normal(0, noise, n))
    return Measurements(configs, y, "median", ["synthetic"] * n, [], 10)


def test_family_choice_is_deterministic_for_a_seed_and_finds_the_true_form():
    data = _synthetic(TINY, 60)
    first, report = fit_model(data, get_space(TINY), seed=3)
    second, again = fit_model(data, get_space(TINY), seed=3)
    assert report["families"] == again["families"] and np.array_equal(first.block_ms, second.block_ms)
    assert report["chosen"] == "onehot"  # the data are a per-block-type cost: cross-validation must see it
    assert report["families"]["onehot"]["within_10pct"] > report["families"]["analytic"]["within_10pct"]
    unc = report["uncertainty"]
    assert 0 < unc["rel_std"] < 0.1 and unc["abs_rel_err_p68"] <= unc["abs_rel_err_p95"]


@pytest.mark.parametrize("truth", ["analytic", "detailed", "kernel_stride"])
def test_the_simplest_family_within_one_standard_error_is_chosen(truth):
    """Data of the analytic form choose analytic (every richer family fits it too, none significantly better);
    data whose depthwise cost depends on the kernel need the detailed family's split, and get it; data whose
    largest kernel has a slow strided micro-kernel need the kernel_stride split, and get them."""
    _, report = fit_model(_synthetic(TINY, 40, family=truth, noise=0.02), get_space(TINY), seed=1)
    assert report["chosen"] == truth
    families = report["families"]
    assert (families["analytic"]["n_features"] < families["detailed"]["n_features"] < families["kernel_stride"]["n_features"]
            < families["onehot"]["n_features"])
    if truth == "detailed":
        assert families["detailed"]["rmse_pct"] < families["analytic"]["rmse_pct"] / 2
    if truth == "kernel_stride":
        assert families["kernel_stride"]["rmse_pct"] < families["detailed"]["rmse_pct"] / 2


def test_artifact_round_trip_and_tamper_detection(tmp_path):
    from latency.api import load_predictor
    from latency.fit import fit_predictor

    data = _synthetic(TINY, 30)
    model, _ = fit_predictor(data, get_space(TINY), tmp_path / "p", seed=0)
    loaded = load_predictor(tmp_path / "p")
    configs = data.configs[:5]
    assert np.allclose(loaded.predict(configs).mean_ms, model.predict(configs).mean_ms)
    assert np.allclose(loaded.predict(configs).std_ms, loaded.rel_std * loaded.predict(configs).mean_ms)
    with pytest.raises(ConfigError, match="predicts the median"):
        load_predictor(tmp_path / "p", target="p90")
    with pytest.raises(ConfigError, match="needs a latency table"):
        load_predictor(tmp_path / "p", "block_sum")

    weights = tmp_path / "p" / "weights.npz"
    blob = bytearray(weights.read_bytes())
    blob[-40] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="does not match the sha256"):
        FittedLatencyPredictor.load(tmp_path / "p")
    result = _cli("verify", tmp_path / "p")
    assert result.exit_code == ArtifactError.exit_code and "sha256" in result.output


def test_a_predictor_covers_only_the_measured_resolution_range():
    space = get_space(TINY)
    data = _synthetic(TINY, 30)
    keep = [i for i, c in enumerate(data.configs) if c.r <= 24]
    model, report = fit_model(data.take(keep), space)
    assert report["resolutions"] == [16, 24]
    with pytest.raises(ConfigError, match="r=\\[32\\]"):
        model.predict([SubnetConfig.largest(space, 32)])


def test_stratified_sample_covers_every_resolution_depth_and_size_and_starts_with_the_extremes():
    space = get_space(W10)
    res = [160, 176, 192, 208, 224]
    picks = stratified_sample(space, res, 20, seed=5)
    assert picks == stratified_sample(space, res, 20, seed=5) and len(set(picks)) == 20
    assert stratified_sample(space, res, 50, seed=5)[:20] == picks  # a larger --n extends the same sample
    assert picks[0] == SubnetConfig.smallest(space, 160) and picks[1] == SubnetConfig.largest(space, 224)
    counts = np.bincount([res.index(c.r) for c in picks])
    assert counts.min() >= 3  # 20 networks over 5 resolutions: no resolution left with fewer than 3
    depths = [sum(c.d) for c in picks[2:]]
    assert min(depths) <= 12 and max(depths) >= 18  # shallow and deep ones, not only the crowded middle (15)


def test_arch_strings_round_trip_and_bad_ones_name_the_form():
    space = get_space(W10)
    for i in range(50):
        cfg = SubnetConfig.sample(space, i).canonical(space)
        assert SubnetConfig.from_arch_string(cfg.arch_string(space), space) == cfg
    for bad in ("r160|35.46", "r160|3.4|3.4|3.4|3.4|3.4x", "160|3.4|3.4|3.4|3.4|3.4", "r160|9.4|3.4|3.4|3.4|3.4"):
        with pytest.raises(ConfigError):
            SubnetConfig.from_arch_string(bad, space)


def test_a_zoo_device_uses_a_fitted_predictor_instead_of_building_a_table(tmp_path):
    from types import SimpleNamespace

    from latency.fit import fit_predictor
    from ofa.zoo.config import DeviceTarget
    from ofa.zoo.stages import latency_stage

    space = get_space(TINY)
    fit_predictor(_synthetic(TINY, 30), space, tmp_path / "p")
    target = DeviceTarget(device="local-ort-cpu", latency_predictor=str(tmp_path / "p"))
    said = []
    cost, validation = latency_stage(target, SimpleNamespace(space=space, num_classes=10), tmp_path / "lut",
                                     said.append, "median")
    value, fastest = cost.minimum()
    assert validation is None and not (tmp_path / "lut").exists() and "fitted predictor" in said[0]
    assert value == pytest.approx(FittedLatencyPredictor.load(tmp_path / "p").minimum_ms())
    with pytest.raises(ConfigError, match="predicts the median"):
        latency_stage(target, SimpleNamespace(space=space, num_classes=10), tmp_path / "lut", said.append, "p90")


def test_a_reference_table_is_a_feature_and_wins_when_the_target_follows_it(tmp_path):
    from latency.predictors import BlockSumPredictor
    from latency.table import LatencyTable
    from test_bad_input_support import write_lut

    space = get_space(TINY)
    write_lut(tmp_path / "lut", TINY, resolutions=(16, 24, 32))
    table = LatencyTable.load(tmp_path / "lut")
    configs = stratified_sample(space, [16, 24, 32], 40, 0, 10)
    sums = BlockSumPredictor.from_table(table).predict(configs).mean_ms
    y = (1.7 * sums + 0.3) * np.exp(np.random.default_rng(0).normal(0, 0.01, len(configs)))
    data = Measurements(configs, y, "median", ["synthetic"] * len(y), [], 10)
    families = ["analytic", "onehot", "rich", "reference"]
    _, report = fit_model(data, space, families, reference=table.values())
    assert report["chosen"] == "reference" and report["families"]["reference"]["within_5pct"] > 0.9
    with pytest.raises(ConfigError, match="needs --reference-lut"):
        fit_model(data, space, families)
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"config": c.to_dict(), "latency_ms": v}) + "\n"
                                              for c, v in zip(configs, y)))
    result = _cli("latency", "fit", tmp_path / "m.jsonl", "--space", TINY, "--out", tmp_path / "p",
                  "--reference-lut", tmp_path / "lut", "--num-classes", 10, "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["chosen"] == "reference"
    write_lut(tmp_path / "lut24", TINY, resolutions=(16, 24))
    with pytest.raises(ConfigError, match=r"no blocks at the measured resolutions \[32\]"):
        fit_model(data, space, families, reference=LatencyTable.load(tmp_path / "lut24").values())


def test_cli_default_families_are_the_library_defaults():
    import inspect

    from latency.cli import fit_cmd
    from latency.fit_features import DEFAULT_FAMILIES

    default = inspect.signature(fit_cmd).parameters["families"].default.default
    assert tuple(default.split(",")) == DEFAULT_FAMILIES


def test_greedy_d_optimal_takes_the_row_that_most_raises_the_determinant():
    from latency.sampling import greedy_d_optimal

    x = np.random.default_rng(0).normal(size=(40, 4))
    picks = greedy_d_optimal(x, 6, first=[3, 7], ridge=1e-6)
    assert picks[:2] == [3, 7] and len(set(picks)) == 6
    for step in range(2, 6):  # brute force: each pick is the argmax of det(X'X + ridge I) over the rows left
        chosen = picks[:step]
        dets = [np.linalg.slogdet(x[chosen + [i]].T @ x[chosen + [i]] + 1e-6 * np.eye(4))[1] if i not in chosen
                else -np.inf for i in range(len(x))]
        assert picks[step] == int(np.argmax(dets))


def test_d_optimal_sample_is_a_prefix_starts_with_the_extremes_and_informs_the_fit_more_than_stratified():
    from latency.fit_features import feature_tables
    from latency.index import BlockIndex

    space = get_space(W10)
    res = [160, 176, 192, 208, 224]
    picks = d_optimal_sample(space, res, 20, seed=5)
    assert picks == d_optimal_sample(space, res, 20, seed=5) and len(set(picks)) == 20
    assert d_optimal_sample(space, res, 30, seed=5)[:20] == picks
    assert picks[0] == SubnetConfig.smallest(space, 160) and picks[1] == SubnetConfig.largest(space, 224)
    index = BlockIndex(space, res, 1000)
    tables, _ = feature_tables(index, "kernel_stride")

    def log_det(configs):
        x = np.column_stack([index.sum(tables, index.encode(configs)), np.ones(len(configs))])
        x = x / np.sqrt(np.mean(x ** 2, axis=0))
        return np.linalg.slogdet(x.T @ x)[1]

    assert log_det(picks) > log_det(stratified_sample(space, res, 20, seed=5)) + 1.0
    with pytest.raises(ConfigError, match="design"):
        from latency.sampling import sample_networks
        sample_networks(space, res, 5, design="random")
