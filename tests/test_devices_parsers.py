"""Runner output parsers on realistic golden samples; unreadable output raises with its tail."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.parsers import parse_benchmark_model, parse_script_line, parse_trtexec, timing_from_event
from devices.runners import MeasureJob, make_runner
from devices.spec import RunnerSpec
from ofa.errors import ConfigError, DeviceError

FIXTURES = Path(__file__).parent / "fixtures_devices"


def test_benchmark_model_golden():
    t = parse_benchmark_model((FIXTURES / "benchmark_model_android.txt").read_text(), "blk")
    assert t.id == "blk" and t.samples_ms is None
    assert t.summary["count"] == 50  # the timed phase, not the warm-up's count=10
    assert t.summary["mean"] == pytest.approx(0.40862)
    assert t.summary["std"] == pytest.approx(0.011)
    assert t.summary["min"] == pytest.approx(0.396) and t.summary["max"] == pytest.approx(0.463)


def test_trtexec_golden_gpu_compute_and_latency():
    text = (FIXTURES / "trtexec_jetson.txt").read_text()
    gpu = parse_trtexec(text, "blk")
    assert gpu.summary["mean"] == pytest.approx(0.271606)
    assert gpu.summary["median"] == pytest.approx(0.268311)
    assert gpu.summary["std"] == pytest.approx(0.0621 * 0.271606)  # from the coefficient of variance
    assert gpu.summary["count"] == 3905
    host = parse_trtexec(text, "blk", metric="Latency")
    assert host.summary["mean"] == pytest.approx(0.305338)


def test_trtexec_std_estimated_without_cv_line():
    text = "\n".join(ln for ln in (FIXTURES / "trtexec_jetson.txt").read_text().splitlines() if "coefficient" not in ln)
    t = parse_trtexec(text)
    assert t.summary["std_estimated"] == 1.0
    assert t.summary["std"] == pytest.approx((0.282715 - 0.268311) / 1.2815515655446004)


@pytest.mark.parametrize("parser", [parse_benchmark_model, parse_trtexec])
def test_parsers_raise_with_tail_never_zero(parser):
    garbage = "line\n" * 50 + "Segmentation fault (core dumped) at the very end"
    with pytest.raises(DeviceError, match="Segmentation fault"):
        parser(garbage)


def test_benchmark_model_inconsistent_output_raises():
    text = (FIXTURES / "benchmark_model_android.txt").read_text().replace("Inference (avg): 408.62", "Inference (avg): 900")
    with pytest.raises(DeviceError, match="inconsistent"):
        parse_benchmark_model(text)


def test_script_lines():
    assert parse_script_line("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") is None
    assert parse_script_line('{"event": "result", "id": "a", "samples_ms": [1.0]}')["id"] == "a"
    with pytest.raises(DeviceError, match="no valid samples"):
        timing_from_event({"event": "result", "id": "a", "samples_ms": []}, "tail text")


def test_runner_argv_are_lists_with_documented_flags(tmp_path):
    bm = make_runner(RunnerSpec(kind="benchmark_model", binary="/data/local/tmp/benchmark_model", threads=4,
                                warmup=3, repeats=20))
    argv = bm.argv("/data/local/tmp/x y.tflite", MeasureJob("j", tmp_path / "x.tflite", (1, 160, 160, 3), "in0"))
    assert argv[0] == "/data/local/tmp/benchmark_model" and "--graph=/data/local/tmp/x y.tflite" in argv
    assert "--num_runs=20" in argv and "--input_layer_shape=1,160,160,3" in argv and "--input_layer=in0" in argv
    trt = make_runner(RunnerSpec(kind="trtexec", precision="fp16"))
    targv = trt.argv("/tmp/m.onnx", MeasureJob("j", tmp_path / "m.onnx", (1, 3, 160, 160)))
    assert targv[:2] == ["trtexec", "--onnx=/tmp/m.onnx"] and "--fp16" in targv
    with pytest.raises(ConfigError, match="precision"):
        make_runner(RunnerSpec(kind="onnxruntime", precision="fp16"))  # int8 is supported since #16
