"""Int8 latency tables: quantised micro-models on the real local runtimes, precision in the header and the
cache key, and bad precision values as config errors."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from devices.catalog import get_device
from devices.runners import make_runner
from devices.spec import DeviceSpec
from latency.blocks import enumerate_blocks
from latency.int8 import Int8Calibration, calibration_inputs
from latency.micro import ModelCache
from latency.profile import build_lut
from ofa.errors import ArtifactError, ConfigError
from ofa.spaces import get_space

TINY = "ofa_tiny_in32_d12_e34_k35_w1.0"
FAST = {"warmup": 2, "repeats": 5, "threads": 1}


def _device(precision="int8", kind="onnxruntime", name="tiny-ort-int8"):
    return DeviceSpec.from_dict({"name": name, "runner": {"kind": kind, "precision": precision, **FAST}})


def _optimised_ops(path) -> collections.Counter:
    """Op types of the graph onnxruntime actually runs (after its QDQ fusions)."""
    import onnx
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    opts.optimized_model_filepath = str(path) + ".opt"
    ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return collections.Counter(n.op_type for n in onnx.load(str(path) + ".opt").graph.node)


@pytest.mark.slow
def test_int8_ort_table_times_quantised_blocks_and_networks(tmp_path):
    from latency.api import calibrate, load_predictor
    from latency.validate import validate_lut

    out = tmp_path / "lut"
    dev = _device()
    table = build_lut(dev, TINY, [32], out, chunk_size=64)
    assert table.manifest["device"]["precision"] == "int8" and table.summary()["precision"] == "int8"
    assert table.manifest["protocol"]["int8_calibration"]["data"] == "builtin"
    assert len(table.frame) == 30 and (table.frame["median_ms"] > 0).all()
    space = get_space(TINY)
    block = next(b for b in enumerate_blocks(space, [32], 1000) if b.kind == "mbconv" and b.spec.se_channels)
    ops = _optimised_ops(ModelCache(out / "models", "onnx", "int8").block(block, space))
    assert ops["QLinearConv"] >= 2, ops  # the convolutions really run as int8 kernels
    calibrate(out, dev, n=4)
    report = validate_lut(out, dev, n=10)  # end-to-end networks timed in int8 too
    assert report["device"]["precision"] == "int8"
    assert set(report["predictors"]) == {"block_sum", "calibrated_sum", "calibrated_sum_all", "fitted_e2e"}
    assert load_predictor(out).name == "calibrated_sum"
    nets = [p for p in (out / "models").iterdir() if p.stat().st_size > 20_000]
    assert nets and all(_optimised_ops(p)["QLinearConv"] > 0 for p in nets[:2])
    with pytest.raises(ArtifactError, match="precision 'int8' != 'fp32'"):  # an fp32 run never adds to it
        build_lut(_device("fp32"), TINY, [32], out)


def test_cache_keys_on_precision_and_calibration(tmp_path):
    space = get_space(TINY)
    block = enumerate_blocks(space, [32], 10)[1]
    fp32 = ModelCache(tmp_path, "onnx")._block_path(block)
    int8 = ModelCache(tmp_path, "onnx", "int8")._block_path(block)
    other = ModelCache(tmp_path, "onnx", "int8", Int8Calibration(images=4))._block_path(block)
    assert len({fp32, int8, other}) == 3


def test_calibration_inputs_are_images_or_standardised_projections():
    cal = Int8Calibration(images=6)
    stem = calibration_inputs(cal, (1, 3, 32, 32))
    deep = np.concatenate(calibration_inputs(cal, (1, 40, 8, 8)))
    assert len(stem) == 6 and stem[0].shape == (1, 3, 32, 32)
    assert deep.shape == (6, 40, 8, 8)
    assert np.allclose(deep.mean((0, 2, 3)), 0, atol=1e-4) and np.allclose(deep.std((0, 2, 3)), 1, atol=0.05)
    assert calibration_inputs(cal, (1, 128), post_activation=True)[0].shape == (1, 128)


def test_int8_tflite_block_has_int8_tensors_and_resizes(tmp_path):
    pytest.importorskip("litert_torch")
    from ai_edge_litert.interpreter import Interpreter

    space = get_space(TINY)
    block = next(b for b in enumerate_blocks(space, [16], 10) if b.kind == "mbconv")
    path = ModelCache(tmp_path, "tflite", "int8").block(block, space)
    interp = Interpreter(model_path=str(path))
    detail = interp.get_input_details()[0]
    assert detail["dtype"] == np.int8
    shape = [1, block.in_size, block.in_size, block.in_channels]  # built at 32x32, timed at the block's size
    interp.resize_tensor_input(detail["index"], shape)
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], np.zeros(shape, np.int8))
    interp.invoke()
    assert interp.get_output_details()[0]["dtype"] == np.int8


def test_int8_devices_are_built_in():
    assert get_device("local-ort-cpu-int8").runner.precision == "int8"
    assert get_device("local-litert-cpu-int8").runner.kind == "litert"


@pytest.mark.parametrize("precision", ["int4", "INT8", "", 8])
def test_bad_precision_is_a_config_error(precision):
    with pytest.raises(ConfigError, match="precision"):
        _device(precision)


def test_precisions_a_runner_cannot_time_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="supports precision"):
        make_runner(_device("int8", kind="pytorch").runner)
    with pytest.raises(ConfigError, match="supports precision"):
        make_runner(_device("fp16").runner)
    with pytest.raises(ConfigError, match="precision"):
        ModelCache(tmp_path, "onnx", "fp16")
    with pytest.raises(ConfigError, match="at least 1 image"):
        Int8Calibration(images=0)


def test_device_check_times_an_int8_model_on_an_int8_device():
    from devices.check import check_device
    from latency.int8 import write_in_precision

    report = check_device("local-ort-cpu-int8", write_in_precision)
    assert report["ok"] and "int8" in report["model"] and report["fingerprint"]["precision"] == "int8"
    assert "fp32" in check_device("local-ort-cpu-int8")["model"]  # without the writer: said, not hidden


def test_a_block_read_twice_by_the_next_residual_block_is_timed_that_way(tmp_path):
    """onnxruntime leaves a QDQ conv in float when its output is read twice (next block's conv + residual add):
    the int8 micro-model of a stage's first block carries that second reader, as every OFA-MBv3 network has."""
    import onnx

    from latency.int8 import feeds_residual

    mbv3, tiny = get_space("ofa_mbv3_d234_e346_k357_w1.0"), get_space(TINY)
    blocks = enumerate_blocks(mbv3, [160], 1000)
    first = next(b for b in blocks if b.kind == "mbconv" and b.spec.slot > 0 and not b.spec.residual)
    residual = next(b for b in blocks if b.kind == "mbconv" and b.spec.residual)
    assert feeds_residual(first, mbv3) and not feeds_residual(residual, mbv3)
    assert not feeds_residual(next(b for b in blocks if b.kind == "mbconv" and b.spec.slot == 0), mbv3)
    assert not any(feeds_residual(b, tiny) for b in enumerate_blocks(tiny, [32], 10))  # depth 1: not always
    path = ModelCache(tmp_path, "onnx", "int8").block(first, mbv3)
    assert len(onnx.load(str(path)).graph.output) == 2
    assert _optimised_ops(path)["Conv"] >= 1  # the project conv in float, as in the whole network
    assert path != ModelCache(tmp_path, "onnx")._block_path(first, mbv3)
