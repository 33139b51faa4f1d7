"""Drift-robust timing: the anchor between rounds, passes until settled, and the steady statistic."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import TINY
from devices.parsers import Timing
from devices.passes import PassLog
from devices.spec import DeviceSpec
from latency.stats import STEADY, summarize
from latency.table import LatencyTable
from ofa.errors import ArtifactError, ConfigError


def _timing(job_id: str, model_ms: float, anchor_ms: float | None, n: int = 6) -> Timing:
    jitter = [1.0, 1.02, 1.05, 1.01, 1.3, 1.04][:n]
    return Timing(job_id, samples_ms=[model_ms * j for j in jitter],
                  anchor_samples_ms=[anchor_ms * j for j in jitter] if anchor_ms else None)


def test_pass_log_keeps_the_quietest_pass_and_asks_again_until_two_agree():
    log = PassLog(tolerance=0.05)
    log.add(_timing("a", 2.0, 0.25))
    assert not log.settled("a")  # one pass is never settled
    log.add(_timing("a", 3.0, 0.25))  # same device speed, model 50% slower: a disturbance hit only the model
    assert not log.settled("a")
    log.add(_timing("a", 2.04, 0.25))
    assert log.settled("a")
    log.add(_timing("b", 3.0, 0.375))  # whole device 1.5x slower during b's passes
    log.add(_timing("b", 3.0, 0.375))
    assert not log.settled("b")  # the passes agree, but the device was not quiet
    log.add(_timing("b", 2.0, 0.25))
    assert log.settled("b")
    best = {t.id: t for t in log.best(["a", "b", "never-timed"])}
    assert set(best) == {"a", "b"} and min(best["b"].anchor_samples_ms) == 0.25


def test_pass_log_without_anchor_uses_the_fastest_run():
    log = PassLog(tolerance=0.05)
    for ms in (5.0, 4.0, 4.1):
        log.add(_timing("m", ms, None))
    assert log.settled("m") and min(next(log.best(["m"])).samples_ms) == 4.0


def test_steady_statistic_cancels_a_device_slowdown(tmp_path):
    quiet, slow = summarize(_timing("x", 2.0, 0.25)), summarize(_timing("x", 3.0, 0.375))
    assert slow["anchor_ms"] == pytest.approx(0.375) and slow["min_ms"] == pytest.approx(3.0)
    table = LatencyTable(tmp_path, {"stat": STEADY, "space": TINY, "resolutions": [32]},
                         pd.DataFrame([quiet | {"key": "k"}, slow | {"key": "k2"}]))
    assert table.anchor_ref_ms == pytest.approx(0.25)
    assert table.column(table.frame) == pytest.approx([2.0, 2.0])  # both back on the quiet device's footing
    assert table.column(table.frame, "median_ms")[1] > 3.0
    no_anchor = LatencyTable(tmp_path, {"stat": STEADY}, pd.DataFrame([summarize(_timing("y", 2.0, None))]))
    with pytest.raises(ArtifactError, match="without a drift anchor"):
        no_anchor.column(no_anchor.frame)


def test_runner_spec_rejects_max_passes_below_passes():
    with pytest.raises(ConfigError, match="max_passes"):
        DeviceSpec.from_dict({"name": "x", "runner": {"passes": 3, "max_passes": 2}})


def test_timing_payload_interleaves_anchor_rounds(tmp_path):
    """The pushed script itself (real onnxruntime): 7 repeats in 3 rounds, each after an anchor round."""
    from devices.runners.script import SCRIPT
    from latency.blocks import enumerate_blocks
    from latency.micro import ModelCache
    from ofa.spaces import get_space

    space = get_space(TINY)
    blocks = enumerate_blocks(space, [16])
    cache = ModelCache(tmp_path, "onnx")
    model, anchor = blocks[0], blocks[5]
    jobs = {"runtime": "onnxruntime", "threads": 1, "warmup": 1, "repeats": 7, "rounds": 3,
            "anchor": {"path": str(cache.block(anchor, space)), "input_shape": list(anchor.input_shape)},
            "models": [{"id": "m", "path": str(cache.block(model, space)), "input_shape": list(model.input_shape)}]}
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "jobs.json")], capture_output=True, text=True, check=True)
    result = [json.loads(line) for line in out.stdout.splitlines() if '"result"' in line][0]
    assert len(result["samples_ms"]) == 7 and len(result["anchor_samples_ms"]) == 7
    assert min(result["anchor_samples_ms"]) > 0


def test_local_table_is_built_and_calibrated_with_the_anchor(tmp_path):
    from latency.api import calibrate, load_predictor
    from latency.profile import build_lut

    dev = DeviceSpec.from_dict({"name": "tiny-ort", "runner": {"kind": "onnxruntime", "warmup": 2, "repeats": 6,
                                                               "rounds": 2, "settle_wait_s": 0}})
    table = build_lut(dev, TINY, [16], tmp_path / "lut", chunk_size=64)
    assert table.stat == STEADY and table.manifest["protocol"]["anchor"].startswith("16|expanded_conv")
    assert (table.frame["anchor_ms"] > 0).all() and (table.frame["min_ms"] <= table.frame["median_ms"]).all()
    values = table.values()
    steady = table.frame["min_ms"] * table.anchor_ref_ms / table.frame["anchor_ms"]
    assert [values[(16, k)][0] for k in table.frame["key"]] == pytest.approx(list(steady))
    rows = calibrate(tmp_path / "lut", dev, n=4)
    assert (rows["anchor_ms"] > 0).all()
    pred = load_predictor(tmp_path / "lut")
    assert pred.name == "calibrated_sum" and np.all(pred.predict(pred_configs(pred)).mean_ms > 0)
    _network_rows_are_rescaled_to_the_calibration_state(tmp_path / "lut", rows)

    plain = DeviceSpec.from_dict({"name": "tiny-ort-plain", "runner": {"kind": "onnxruntime", "warmup": 1, "repeats": 4,
                                                                       "passes": 1, "drift_anchor": False}})
    other = build_lut(plain, TINY, [16], tmp_path / "plain", chunk_size=64)
    assert other.stat == "min_ms" and other.manifest["protocol"]["anchor"] is None
    assert other.frame["anchor_ms"].isna().all()
    anchored_now = DeviceSpec.from_dict({"name": "tiny-ort-plain", "runner": {"kind": "onnxruntime"}})
    with pytest.raises(ArtifactError, match="made differently"):  # a different protocol never mixes into a table
        build_lut(anchored_now, TINY, [16], tmp_path / "plain")


def _network_rows_are_rescaled_to_the_calibration_state(lut, rows):
    from latency.api import e2e_values
    from latency.e2e import load_e2e

    table = LatencyTable.load(lut)
    assert (rows["anchor_kind"] == "network").all()  # calibration networks are timed against the network anchor
    median, fastest = rows["median_ms"].to_numpy(float), rows["min_ms"].to_numpy(float)
    anchor_median, anchor_fastest = rows["anchor_median_ms"].to_numpy(float), rows["anchor_ms"].to_numpy(float)
    assert (anchor_median >= anchor_fastest).all()
    # the median over the anchor's median, the fastest run over the anchor's fastest (the same rounds)
    np.testing.assert_allclose(e2e_values(table, rows, "median_ms"), median * np.median(anchor_median) / anchor_median)
    np.testing.assert_allclose(e2e_values(table, rows, "min_ms"), fastest * np.median(anchor_fastest) / anchor_fastest)
    # a network timed later while the whole device ran 30 % slower: its value is the calibration state's
    ref = float(np.median(anchor_median))
    later = rows.iloc[:1].assign(purpose="validation", median_ms=median[0] * 1.3, anchor_median_ms=ref * 1.3)
    assert e2e_values(table, later, "median_ms")[0] == pytest.approx(median[0])
    assert e2e_values(table, later.assign(anchor_kind="block"), "median_ms")[0] == pytest.approx(median[0] * 1.3)
    # rows without the anchor's median (measured before it was kept) fall back to its fastest run
    old = later.assign(anchor_median_ms=np.nan, anchor_ms=float(np.median(anchor_fastest)) * 1.3)
    assert e2e_values(table, old, "median_ms")[0] == pytest.approx(median[0])
    # an e2e.csv written before network anchors: its anchored rows were block-anchored
    (lut / "e2e.csv").write_text(rows.drop(columns=["anchor_kind"]).to_csv(index=False))
    assert (load_e2e(lut)["anchor_kind"] == "block").all()


def pred_configs(pred):
    import random

    from ofa.subnet import SubnetConfig

    rng = random.Random(0)
    return [SubnetConfig.sample(pred.space, rng, r=(16,)) for _ in range(5)]


def test_schema1_table_still_loads_and_predicts_with_the_mean(tmp_path):
    from latency.api import e2e_values, load_predictor
    from latency.profile import build_lut

    dev = DeviceSpec.from_dict({"name": "tiny-ort", "runner": {"kind": "onnxruntime", "warmup": 1, "repeats": 4,
                                                               "passes": 1}})
    out = tmp_path / "lut"
    build_lut(dev, TINY, [16], out, chunk_size=64)
    frame = pd.read_csv(out / "lut.csv").drop(columns=["anchor_ms"])
    frame.to_csv(out / "lut.csv", index=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest.pop("stat")
    manifest["schema_version"] = 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    old = LatencyTable.load(out)
    assert old.stat == "mean_ms" and old.frame["anchor_ms"].isna().all()
    assert load_predictor(out, "block_sum").stat == "mean_ms"
    steady_table = LatencyTable(out, {"stat": STEADY}, old.frame.assign(anchor_ms=0.1))
    with pytest.raises(ArtifactError, match="delete that file"):
        e2e_values(steady_table, pd.DataFrame({"min_ms": [1.0], "anchor_ms": [math.nan]}))


def test_the_declared_statistic_is_recorded_and_is_what_fitted_predictors_promise(tmp_path):
    """A device declaring p90 budgets: the table records it, end-to-end rows keep every percentile, and the
    calibrated sum is fitted to that column (doubling the p90 column doubles its predictions exactly)."""
    from latency.api import calibrate, load_predictor
    from latency.e2e import load_e2e, save_e2e
    from latency.profile import build_lut

    dev = DeviceSpec.from_dict({"name": "tiny-ort-p90", "latency_stat": "p90",
                                "runner": {"kind": "onnxruntime", "warmup": 1, "repeats": 20, "passes": 1}})
    build_lut(dev, TINY, [16], tmp_path / "lut", chunk_size=64)
    assert LatencyTable.load(tmp_path / "lut").budget_stat == "p90"
    rows = calibrate(tmp_path / "lut", dev, n=5)
    assert (rows["p90_ms"] >= rows["median_ms"]).all() and (rows["p99_ms"] >= rows["p90_ms"]).all()
    frame = load_e2e(tmp_path / "lut")
    save_e2e(tmp_path / "lut", frame.assign(p90_ms=2 * frame["median_ms"]))
    configs = pred_configs(load_predictor(tmp_path / "lut", "block_sum"))
    p90 = load_predictor(tmp_path / "lut").predict(configs).mean_ms  # the table's declared statistic
    median = load_predictor(tmp_path / "lut", target="median").predict(configs).mean_ms
    assert p90 == pytest.approx(2 * median, rel=1e-6)
    with pytest.raises(ConfigError, match="p42"):
        load_predictor(tmp_path / "lut", target="p42")
    with pytest.raises(ConfigError, match="latency_stat"):
        DeviceSpec.from_dict({"name": "bad", "latency_stat": "p42"})
