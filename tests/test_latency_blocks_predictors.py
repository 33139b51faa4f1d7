"""Block enumeration, OFA Note10 import (checked against OFA's sum-of-means), vectorised predictors."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import TINY, W10, W12
from latency.api import load_predictor, predict_latency_ms
from latency.blocks import enumerate_blocks, network_block_keys
from latency.features import block_mweights
from latency.index import BlockIndex
from latency.micro import block_module
from latency.ofa_import import import_ofa_tables
from latency.predictors import BlockSumPredictor, CalibratedSumPredictor, FittedE2EPredictor, design, weight_tables
from latency.stats import summarize_samples
from ofa.errors import ArtifactError, ConfigError
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig

NOTE10 = Path(__file__).resolve().parents[2] / "shared" / "data" / "ofa_latency_luts" / "note10"
needs_note10 = pytest.mark.skipif(not NOTE10.is_dir(), reason=f"OFA Note10 tables not found at {NOTE10}")


@pytest.mark.parametrize("space", [W12, W10])
def test_96_blocks_per_resolution(space):
    for r in (160, 224):
        assert len(enumerate_blocks(get_space(space), [r])) == 96
    tiny = get_space(TINY)  # 1 stem + 1 first + 3 stages x 2 positions x 2 k x 2 e + 4 head
    assert len(enumerate_blocks(tiny, [32])) == 30


@needs_note10
def test_keys_equal_ofa_note10_keys():
    for r in (160, 224):
        ofa_keys = set(yaml.safe_load((NOTE10 / f"{r}_lookup_table.yaml").read_text()))
        assert {b.key for b in enumerate_blocks(get_space(W12), [r])} == ofa_keys


def _ofa_sum_of_means(cfg: dict, r: int) -> float:
    """OFA's method, written independently from the OFA net-config rules (widths x1.2, mid = make_divisible)."""
    lut = yaml.safe_load((NOTE10 / f"{r}_lookup_table.yaml").read_text())
    widths, strides, se, hs = [32, 48, 96, 136, 192], [2, 2, 2, 1, 2], [0, 1, 0, 1, 1], [0, 0, 1, 1, 1]

    def div8(v):
        n = max(8, int(v + 4) // 8 * 8)
        return n + 8 if n < 0.9 * v else n

    def q(name, i, o, extra=""):
        return lut[f"{name}-input:{i}-output:{o}{extra}"]["mean"]

    f = (r + 1) // 2
    total = q("Conv", f"{r}x{r}x3", f"{f}x{f}x24")
    total += q("expanded_conv", f"{f}x{f}x24", f"{f}x{f}x24", "-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0")
    c = 24
    for s in range(5):
        for i in range(cfg["d"][s]):
            k, e = cfg["ks"][4 * s + i], cfg["e"][4 * s + i]
            stride = strides[s] if i == 0 else 1
            o = (f - 1) // stride + 1
            skip = int(stride == 1 and c == widths[s])
            total += q("expanded_conv", f"{f}x{f}x{c}", f"{o}x{o}x{widths[s]}",
                       f"-expand:{div8(round(c * e))}-kernel:{k}-stride:{stride}-idskip:{skip}-se:{se[s]}-hs:{hs[s]}")
            f, c = o, widths[s]
    total += q("Conv_1", f"{f}x{f}x192", f"{f}x{f}x1152") + q("AvgPool2D", f"{f}x{f}x1152", "1x1x1152")
    return total + q("Conv_2", "1x1x1152", "1x1x1536") + q("Logits", "1x1x1536", "1000")


@needs_note10
def test_import_ofa_note10_equals_ofa_sum_of_means(tmp_path):
    import_ofa_tables(NOTE10, tmp_path / "note10")
    predictor = load_predictor(tmp_path / "note10", "block_sum")
    given = {"ks": [3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5, 7, 3, 5],
             "e": [3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4, 6, 3, 4], "d": [2, 3, 4, 3, 2]}
    for r in (160, 192, 224):
        cfg = SubnetConfig.from_dict(given | {"r": r}, W12)
        mean, std = predictor.predict(cfg)[0]
        assert mean == pytest.approx(_ofa_sum_of_means(given, r), rel=1e-12)
        assert 0 < std < mean
    assert 8 < predictor.predict(SubnetConfig.smallest(W12, 160))[0][0] < predictor.predict(SubnetConfig.largest(W12, 224))[0][0] < 120


def test_import_ofa_rejects_wrong_space(tmp_path):
    if not NOTE10.is_dir():
        pytest.skip("no Note10 tables")
    with pytest.raises(ArtifactError, match="lacks"):
        import_ofa_tables(NOTE10, tmp_path / "x", space=W10)


def _synthetic_values(space, resolutions, seed=0):
    rng = np.random.default_rng(seed)
    return {b.ident: np.array([rng.uniform(0.1, 2.0), rng.uniform(0, 0.01)]) for b in enumerate_blocks(space, resolutions)}


def test_vectorised_sum_equals_per_network_sum():
    space, res = get_space(W10), [160, 192, 224]
    values = _synthetic_values(space, res)
    predictor = BlockSumPredictor(BlockIndex(space, res), values)
    configs = [SubnetConfig.sample(space, s, r=tuple(res)) for s in range(200)]
    pred = predictor.predict(configs)
    slow = np.array([sum(values[(c.r, k)][0] for k in network_block_keys(space, c)) for c in configs])
    var = np.array([sum(values[(c.r, k)][1] for k in network_block_keys(space, c)) for c in configs])
    np.testing.assert_allclose(pred.mean_ms, slow, rtol=1e-12)
    np.testing.assert_allclose(pred.std_ms, np.sqrt(var), rtol=1e-12)


def test_population_prediction_is_microseconds_per_config():
    space, res = get_space(W10), [160, 176, 192, 208, 224]
    predictor = BlockSumPredictor(BlockIndex(space, res), _synthetic_values(space, res))
    configs = [SubnetConfig.sample(space, s, r=tuple(res)) for s in range(100)]
    enc = predictor.index.encode(configs)
    start = time.perf_counter()
    for _ in range(50):
        predictor.predict_population(enc)
    per_config_us = (time.perf_counter() - start) / 50 / 100 * 1e6
    assert per_config_us < 20, per_config_us
    arrays = predictor.index.encode_arrays(np.array([c.ks for c in configs]), np.array([c.e for c in configs]),
                                           np.array([c.d for c in configs]), np.array([c.r for c in configs]))
    np.testing.assert_array_equal(predictor.predict_population(arrays).mean_ms, predictor.predict_population(enc).mean_ms)
    with pytest.raises(ConfigError, match="resolution"):
        predictor.index.encode([SubnetConfig.sample(space, 0, r=(128,))])


def test_calibrated_recovers_a_known_gap_and_fitted_learns_linear_costs():
    space, res = get_space(W10), [160, 224]
    block_sum = BlockSumPredictor(BlockIndex(space, res), _synthetic_values(space, res))
    configs = [SubnetConfig.sample(space, s, r=tuple(res)) for s in range(40)]
    enc = block_sum.index.encode(configs)
    truth = 0.8 * block_sum.predict_population(enc).mean_ms - 0.03 * block_sum.index.n_blocks(enc) + 0.5
    few_at_224 = [i for i, c in enumerate(configs) if c.r == 160][:7] + [i for i, c in enumerate(configs) if c.r == 224][:3]
    calib = CalibratedSumPredictor.fit(block_sum, [configs[i] for i in few_at_224], truth[few_at_224])
    np.testing.assert_allclose(calib.predict(configs).mean_ms, truth, rtol=1e-9)
    assert calib.describe()["scale"] == pytest.approx(0.8)  # one shared scale: 3 points at 224 are too few
    # a gap that grows with the resolution: with 4+ points at each resolution, one scale per resolution
    scale = np.where(np.array([c.r for c in configs]) == 224, 1.1, 0.8)
    truth_r = scale * block_sum.predict_population(enc).mean_ms + 0.02 * block_sum.index.n_blocks(enc) + 0.3
    per_res = CalibratedSumPredictor.fit(block_sum, configs[:12], truth_r[:12])
    assert per_res.per_resolution and per_res.describe()["scale"] == pytest.approx({"160": 0.8, "224": 1.1})
    np.testing.assert_allclose(per_res.predict(configs[12:]).mean_ms, truth_r[12:], rtol=1e-9)
    fitted = FittedE2EPredictor.fit(space, res, configs[:30], truth[:30])
    err = np.abs(fitted.predict(configs[30:]).mean_ms - truth[30:]) / truth[30:]
    assert fitted.predict(configs[30:]).std_ms[0] > 0 and err.max() < 0.5  # a different model family: rough only
    with pytest.raises(ConfigError, match="at least"):
        FittedE2EPredictor.fit(space, res, configs[:3], truth[:3])


def test_calibrated_fit_minimises_relative_error():
    """Noisy data: the fit must be the relative-error optimum (small networks count as much as large ones)."""
    space, res = get_space(W10), [160, 224]
    block_sum = BlockSumPredictor(BlockIndex(space, res), _synthetic_values(space, res))
    configs = [SubnetConfig.sample(space, s, r=tuple(res)) for s in range(30)]
    sums = block_sum.predict(configs).mean_ms
    noise = 1 + 0.08 * np.random.default_rng(0).standard_normal(len(configs))
    measured = (0.9 * sums + 0.4) * noise
    calib = CalibratedSumPredictor.fit(block_sum, configs, measured)
    rel = calib.predict(configs).mean_ms / measured - 1
    pop = block_sum.index.encode(configs)
    mweights = block_sum.index.sum(weight_tables(block_sum.index), pop)[:, 0] if calib.weights_term else None
    x = design(sums, block_sum.index.rows(pop), block_sum.index.n_blocks(pop), len(res), calib.per_resolution, mweights)
    x = x / measured[:, None]
    np.testing.assert_allclose(x.T @ rel, 0, atol=1e-9)  # normal equations of sum(rel ** 2)
    absolute = np.linalg.lstsq(x * measured[:, None], measured, rcond=None)[0]
    assert np.sum(rel ** 2) < np.sum(((x * measured[:, None]) @ absolute / measured - 1) ** 2)
    spread = calib.predict(configs).std_ms
    assert calib.describe()["resid_std_pct"] > 0 and spread[np.argmax(sums)] > spread[np.argmin(sums)]


def _network_mweights(space, configs, res):
    blocks = {b.ident: b for b in enumerate_blocks(space, res)}
    return np.array([sum(block_mweights(blocks[(c.r, k)]) for k in network_block_keys(space, c)) for c in configs])


def test_calibrated_sum_adds_a_weights_term_only_when_leave_one_out_says_it_helps():
    space, res = get_space(W10), [160, 224]
    block_sum = BlockSumPredictor(BlockIndex(space, res), _synthetic_values(space, res))
    configs = [SubnetConfig.sample(space, s, r=tuple(res)) for s in range(40)]
    sums, mweights = block_sum.predict(configs).mean_ms, _network_mweights(space, configs, res)
    truth = 0.9 * sums + 0.5 * mweights + 0.2  # a cold-weights cost the block sum lacks
    calib = CalibratedSumPredictor.fit(block_sum, configs[:20], truth[:20])
    described = calib.describe()
    assert described["form"] == "one scale + weights term" and described["per_mweight_ms"] == pytest.approx(0.5)
    assert described["loo_rel_rmse_pct"]["one scale + weights term"] < described["loo_rel_rmse_pct"]["one scale"]
    np.testing.assert_allclose(calib.predict(configs[20:]).mean_ms, truth[20:], rtol=1e-9)
    # the additive tables the search minimises carry the term too
    np.testing.assert_allclose(calib.additive()(block_sum.index.encode(configs)), truth, rtol=1e-9)
    plain = CalibratedSumPredictor.fit(block_sum, configs[:20], (0.9 * sums + 0.2)[:20])  # no such gap
    assert plain.describe()["form"] == "one scale" and "per_mweight_ms" not in plain.describe()


def test_block_weights_count_the_conv_and_linear_weights_of_the_block_module():
    space = get_space(W10)
    blocks = enumerate_blocks(space, [160])
    picked = [b for b in blocks if b.kind != "mbconv"] + [b for b in blocks if b.kind == "mbconv"][::9]
    assert any(b.spec is not None and b.spec.se_channels for b in picked)
    for block in picked:
        module = block_module(block, space)
        counted = sum(p.numel() for p in module.parameters() if p.dim() > 1) / 1e6
        assert block_mweights(block) == pytest.approx(counted, rel=1e-9), block.key


def test_outlier_rejection_is_documented_rule():
    samples = [1.0, 1.01, 0.99, 1.02, 0.98, 1.0, 5.0]
    s = summarize_samples(samples)
    assert s["rejected"] == 1 and s["count"] == 6 and s["mean_ms"] == pytest.approx(1.0, abs=0.01)
    tight = summarize_samples([1.0, 1.0, 1.0, 1.05, 1.06, 1.0])  # within 10% of the median: all kept
    assert tight["rejected"] == 0


def test_missing_blocks_are_a_clear_error():
    space = get_space(TINY)
    values = _synthetic_values(space, [16])
    values.pop(next(iter(values)))
    with pytest.raises(ArtifactError, match="ofa lut build"):
        BlockSumPredictor(BlockIndex(space, [16]), values)


def test_predict_latency_ms_accepts_predictor():
    space = get_space(TINY)
    p = BlockSumPredictor(BlockIndex(space, [32]), _synthetic_values(space, [32]))
    out = predict_latency_ms(p, [SubnetConfig.largest(space, 32), SubnetConfig.smallest(space, 32)])
    assert out.mean_ms[0] > out.mean_ms[1] > 0


def test_every_predictor_exports_its_mean_as_one_additive_table():
    """The search's cost table is the predictor's own (no probing): equal means, exact minimum, inf off-table."""
    from ofa.search.population import sample

    space, res = get_space(W10), [160, 224]
    block_sum = BlockSumPredictor(BlockIndex(space, res), _synthetic_values(space, res))
    configs = [SubnetConfig.sample(space, s, r=tuple(res)) for s in range(40)]
    truth = 0.8 * block_sum.predict(configs).mean_ms + 0.5
    predictors = [block_sum, CalibratedSumPredictor.fit(block_sum, configs[:12], truth[:12]),
                  FittedE2EPredictor.fit(space, res, configs[:30], truth[:30])]
    allowed = np.array([space.resolutions.index(r) for r in res])
    pop = sample(space, 300, np.random.default_rng(0), allowed)
    for predictor in predictors:
        table = predictor.additive()
        np.testing.assert_allclose(table(pop), predictor.predict_population(pop).mean_ms, rtol=1e-12)
        np.testing.assert_array_equal(table.r_allowed, allowed)
        minimum, best = table.minimum()
        assert minimum == pytest.approx(predictor.predict_population(best).mean_ms[0], rel=1e-12)
        assert minimum <= table(pop).min()
    off_table = sample(space, 5, np.random.default_rng(1), np.array([space.resolutions.index(128)]))
    assert np.isinf(block_sum.additive()(off_table)).all()
    with pytest.raises(ConfigError, match="resolution"):
        block_sum.predict_population(off_table)
