"""OFA-ResNet latency tables: block keys, dense tables and their exact minimum, micro-models that compute what the
network computes, and ``ofa lut build`` / ``ofa lut predict`` on the local onnxruntime device (the small fixture
space of tests/test_resnet_cli.py at r=32)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from latency.api import load_predictor
from latency.resnet_blocks import enumerate_resnet_blocks, lut_space, network_block_keys
from latency.resnet_predictor import ResNetBlockSumPredictor, ResNetCalibratedSum
from latency.table import LatencyTable
from ofa.cli.main import app
from ofa.errors import ArtifactError, ConfigError
from ofa.nn.resnet import HeadPart, StaticResNet, StemPart, resnet_cost
from ofa.resnet_cost_table import resnet_flops_table, resnet_params_table
from ofa.resnet_population import ResNetPopulation, choice_counts
from ofa.spaces.resnet import OFA_RESNET50, ResNetConfig, ResNetSpace

SPACE = {"id": "ofa_resnet50_w0.06-0.12", "w_choices": [0.06, 0.09, 0.12], "resolutions": [32, 48, 64]}
SMALL = ResNetSpace.model_validate(SPACE)
#: a space small enough to enumerate every config (2^12 = 4096): the exact minimum is checked against all of them
TINY = ResNetSpace(id="tiny", base_depths=(1, 1), stage_widths=(16, 32), strides=(1, 2), d_choices=(0, 1),
                   e_choices=(0.25, 0.5), w_choices=(0.5, 1.0), resolutions=(32, 40))
runner = CliRunner()


def _random_predictor(space: ResNetSpace, resolutions, seed: int = 0) -> ResNetBlockSumPredictor:
    rng = np.random.default_rng(seed)
    blocks = enumerate_resnet_blocks(space, resolutions, 10)
    values = {b.ident: np.array([rng.uniform(0.01, 1.0), rng.uniform(0, 1e-3)]) for b in blocks}
    return ResNetBlockSumPredictor(space, values, resolutions, 10)


def _configs(space: ResNetSpace, n: int, resolutions=None) -> list[ResNetConfig]:
    out = [ResNetConfig.sample(space, seed=i) for i in range(n)]
    out += [ResNetConfig.smallest(space), ResNetConfig.largest(space)]
    return [replace(c, r=resolutions[i % len(resolutions)]) for i, c in enumerate(out)] if resolutions else out


def test_block_sum_of_the_dense_tables_equals_the_sum_over_each_configs_own_block_keys():
    pred = _random_predictor(SMALL, [32, 64])
    configs = _configs(SMALL, 200, [32, 64])
    mean = pred.predict(configs).mean_ms
    by_keys = [sum(pred.values[(c.r, k)][0] for k in network_block_keys(SMALL, c, 10)) for c in configs]
    np.testing.assert_allclose(mean, by_keys, rtol=1e-12)
    assert len(set(np.round(mean, 9))) > 150  # the configs differ, and so do their sums


def test_ofa_resnet50_has_159_blocks_per_resolution_and_each_config_uses_known_keys():
    blocks = enumerate_resnet_blocks(OFA_RESNET50, [128], 1000)
    kinds = [b.kind for b in blocks]
    assert (kinds.count("resnet_stem"), kinds.count("bottleneck"), kinds.count("resnet_head")) == (12, 144, 3)
    keys = {b.key for b in blocks}
    for cfg in _configs(OFA_RESNET50, 20, [128]):
        assert set(network_block_keys(OFA_RESNET50, cfg)) <= keys


def test_flops_and_params_tables_equal_resnet_cost():
    flops, params = resnet_flops_table(SMALL, 10), resnet_params_table(SMALL, 10)
    configs = _configs(SMALL, 100)
    pop = ResNetPopulation.from_configs(SMALL, configs)
    assert pop.configs() == configs
    np.testing.assert_allclose(flops(pop), [resnet_cost(SMALL, c, 10).macs / 1e6 for c in configs], rtol=1e-12)
    np.testing.assert_allclose(params(pop), [resnet_cost(SMALL, c, 10).params / 1e6 for c in configs], rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_exact_minimum_matches_exhaustive_enumeration(seed):
    table = _random_predictor(TINY, [32, 40], seed=seed).additive()
    counts = choice_counts(TINY)
    every = np.array(list(itertools.product(*[range(c) for c in counts])))
    costs = table(ResNetPopulation(every, TINY))
    value, best = table.minimum()
    assert value == pytest.approx(costs.min(), rel=1e-12) and table(best)[0] == pytest.approx(value, rel=1e-12)
    only_32 = _random_predictor(TINY, [32], seed=3).additive()
    assert list(only_32.r_allowed) == [0] and only_32.minimum()[1].configs()[0].r == 32


def test_calibrated_sum_recovers_a_known_gap_and_stays_additive():
    block_sum = _random_predictor(SMALL, [32, 64], seed=5)
    configs = _configs(SMALL, 40, [32, 64])
    pop = ResNetPopulation.from_configs(SMALL, configs)
    n = np.array([2 + len(c.active_blocks(SMALL)) for c in configs])
    measured = 1.3 * block_sum.additive()(pop) + 0.02 * n + 0.5  # a known scale, per-block cost and offset
    fitted = ResNetCalibratedSum.fit(block_sum, configs, measured)
    np.testing.assert_allclose(fitted.scales, [1.3, 1.3], rtol=1e-6)
    assert fitted.per_block == pytest.approx(0.02, abs=1e-6) and fitted.offset == pytest.approx(0.5, abs=1e-5)
    np.testing.assert_allclose(fitted.predict(configs).mean_ms, measured, rtol=1e-6)
    value, best = fitted.additive().minimum()  # the additive form keeps the exact minimum
    assert value == pytest.approx(fitted.additive()(best)[0]) and value <= fitted.predict(configs).mean_ms.min()


def test_micro_models_compose_to_the_static_network():
    cfg = ResNetConfig((1, 2, 0, 1, 2), (0.35, 0.2, 0.25) * 6, (2, 1, 0, 2, 1, 2), 48, SMALL.id).validate(SMALL)
    torch.manual_seed(0)
    net = StaticResNet(SMALL, cfg, 10).eval()
    bn = dict(eps=SMALL.bn_eps, momentum=SMALL.bn_momentum)
    stem = StemPart(SMALL.stem_mid_channels(2), SMALL.stem_channels(1), cfg.skips_stem_conv(SMALL) is False, bn).eval()
    stem.input_stem.load_state_dict(net.input_stem.state_dict())
    head = HeadPart(net.classifier.linear.in_features, 10).eval()
    head.classifier.linear.load_state_dict(net.classifier.linear.state_dict())
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        h = stem(x)
        for block in net.blocks:
            h = block(h)
        torch.testing.assert_close(head(h), net(x), rtol=0, atol=1e-6)


def test_lut_space_reads_resnet_ids_and_files(tmp_path):
    assert lut_space("ofa_resnet50") is OFA_RESNET50
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    assert lut_space(tmp_path / "space.json") == SMALL
    assert lut_space("ofa_mbv3_d234_e346_k357_w1.0").id == "ofa_mbv3_d234_e346_k357_w1.0"
    with pytest.raises(ConfigError):
        lut_space("no_such_space")


def test_lut_build_and_predict_on_the_local_ort_device(tmp_path, monkeypatch):
    """``ofa lut build`` times every block of the fixture space at r=32; ``ofa lut predict`` = the sum of its rows."""
    monkeypatch.setenv("OFA_CONVERT_WORKERS", "1")  # 97 small ONNX files: spawning converter processes costs more
    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    fast = {"kind": "onnxruntime", "warmup": 1, "repeats": 3, "rounds": 1, "passes": 1, "max_passes": 1, "threads": 1}
    (tmp_path / "dev.yaml").write_text(json.dumps({"name": "tiny-ort", "transport": {"kind": "local"}, "runner": fast}))
    out = tmp_path / "lut"
    build = ["lut", "build", "--device", str(tmp_path / "dev.yaml"), "--space", str(tmp_path / "space.json"),
             "--out", str(out), "--resolutions", "32", "--num-classes", "10", "--chunk", "64"]
    result = runner.invoke(app, build + ["--calibrate", "4"])
    assert result.exit_code == 0, result.output
    table = LatencyTable.load(out)
    assert table.manifest["family"] == "resnet" and table.manifest["complete"] and table.space() == SMALL
    assert len(table.frame) == len(enumerate_resnet_blocks(SMALL, [32], 10))
    cfg = ResNetConfig((2, 1, 0, 2, 1), (0.25,) * 18, (0, 1, 2, 2, 1, 0), 32, SMALL.id)
    (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
    predicted = runner.invoke(app, ["lut", "predict", str(out), "--subnet", str(tmp_path / "cfg.json"),
                                    "--predictor", "block_sum"])
    assert predicted.exit_code == 0, predicted.output
    values = table.values()
    expected = sum(values[(32, k)][0] for k in network_block_keys(SMALL, cfg, 10))
    assert json.loads(predicted.output)["latency_ms"] == pytest.approx(expected, rel=1e-9) and expected > 0
    e2e = pd.read_csv(out / "e2e.csv")  # --calibrate 4: whole static ResNets timed end to end
    assert len(e2e) == 4 and set(e2e["purpose"]) == {"calibration"} and (e2e["median_ms"] > 0).all()
    assert (e2e["anchor_kind"] == "network").all() and (e2e["anchor_ms"] > 0).all()  # the middle ResNet
    calibrated = load_predictor(out)  # auto: the calibrated sum once the table has calibration networks
    assert calibrated.name == "calibrated_sum" and calibrated.additive().r_allowed.tolist() == [0]  # r=32 only
    auto = runner.invoke(app, ["lut", "predict", str(out), "--subnet", str(tmp_path / "cfg.json")])
    assert json.loads(auto.output)["predictor"] == "calibrated_sum"
    refused = runner.invoke(app, ["lut", "predict", str(out), "--subnet", str(tmp_path / "cfg.json"),
                                  "--predictor", "fitted_e2e"])
    assert refused.exit_code == ConfigError.exit_code and "OFA-ResNet" in refused.output
    again = runner.invoke(app, build + ["--calibrate", "0"])  # resumes: every block is there, nothing re-timed
    assert again.exit_code == 0, again.output
    assert LatencyTable.load(out).frame["measured_at"].tolist() == table.frame["measured_at"].tolist()
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["space_def"]["w_choices"] = "wide"  # a hand edit: refused on load, naming the file
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="ResNet space of the table is invalid"):
        LatencyTable.load(out)
