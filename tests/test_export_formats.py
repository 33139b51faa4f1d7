"""Every format x precision that runs here, validated in its real runtime against PyTorch.

Each model is converted once per module (TFLite conversion takes ~15-30 s on this machine)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import MBV3, TINY
from export.api import export_model
from export.formats import EXPORTERS
from export.metadata import read_onnx_metadata, read_tflite_metadata
from export.runtimes import LiteRTRunner
from export.validate import TOLERANCES
from test_export_support import make_subnet

CORE = ("onnx", "tflite", "tensorrt")  # the optional-extra formats have their own test files (importorskip)
ALL = [(fmt, prec) for fmt in CORE for prec in EXPORTERS.get(fmt).precisions]
FAST = dict(calib_images=100, val_images=128, latency_repeats=5)


def test_every_registered_format_has_its_tests():
    """The optional-runtime formats are tested in their own files (importorskip); a new format joins one list."""
    optional = {"openvino": "test_export_openvino.py", "executorch": "test_export_executorch.py",
                "coreml": "test_export_coreml.py"}
    assert set(EXPORTERS.names()) == set(CORE) | set(optional)
    assert all((Path(__file__).parent / name).is_file() for name in optional.values())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    net = make_subnet(TINY, seed=0, resolution=32, epochs=2)
    out = tmp_path_factory.mktemp("tiny")
    report = export_model(net, ",".join(CORE), "fp32,fp16,int8", out, **FAST)
    return net, report


@pytest.fixture(scope="module")
def mbv3(tmp_path_factory):
    net = make_subnet(MBV3, seed=1, resolution=128, bn_images=100)  # untrained: int8 is not judged on it
    out = tmp_path_factory.mktemp("mbv3")
    return net, export_model(net, "onnx,tflite", "fp32,fp16", out, calib_images=16, val_images=64, latency_repeats=5)


@pytest.mark.parametrize("fmt,precision", ALL)
def test_tiny_subnet_export_passes_parity(tiny, fmt, precision):
    _, report = tiny
    result = report.result(fmt, precision)
    assert result.status == "passed", result.failures
    metrics = result.outputs["logits"]
    tol = TOLERANCES[result.tolerance["precision"]]
    assert metrics["images"] == 128
    assert metrics["top1_agreement"] >= tol.min_top1_agreement
    if tol.atol is not None:
        assert metrics["max_abs_diff"] <= tol.atol + tol.rtol * metrics["reference_max_abs"]
    assert result.size_bytes > 1000 and result.sha256 and result.latency["median_ms"] > 0


def test_int8_is_judged_on_real_labels_and_fp32_is_exact(tiny):
    _, report = tiny
    int8 = report.result("tflite", "int8").outputs["logits"]
    assert int8["accuracy_reference"] > 0.4  # a fitted classifier, not a random network
    assert int8["accuracy_drop"] <= TOLERANCES["int8"].max_accuracy_drop
    assert report.result("onnx", "fp32").outputs["logits"]["max_abs_diff"] < 1e-4
    assert report.result("tflite", "fp32").outputs["logits"]["max_abs_diff"] < 1e-4


def test_quantised_files_are_smaller(tiny):
    _, report = tiny
    for fmt in ("onnx", "tflite"):
        sizes = {p: report.result(fmt, p).size_bytes for p in ("fp32", "fp16", "int8")}
        assert sizes["int8"] < sizes["fp16"] < sizes["fp32"], (fmt, sizes)


def test_metadata_round_trip(tiny):
    net, report = tiny
    expected = {"space": TINY, "subnet": net.config.to_dict(), "resolution": 32, "mean": list(net.info.mean),
                "std": list(net.info.std), "labels": net.info.labels, "num_classes": 10}
    for result in report.results:
        read = read_tflite_metadata(result.file) if result.file.endswith(".tflite") else read_onnx_metadata(result.file)
        assert {k: read[k] for k in expected} == expected, result.file
        assert read["precision"] == ("fp32" if result.format == "tensorrt" and result.precision == "fp16" else result.precision)


def test_report_records_versions_settings_and_latency(tiny):
    _, report = tiny
    data = json.loads((report.out_dir and open(f"{report.out_dir}/export_report.json").read()))
    assert data["passed"] is True
    assert data["tools"]["onnxruntime"] != "not installed" and data["tools"]["litert-torch"] != "not installed"
    assert data["settings"]["precision"] == "fp32,fp16,int8"
    assert data["reference_latency"]["median_ms"] > 0
    assert data["images"]["labelled"] is True
    files = [r["file"] for r in data["results"] if r["file"]]
    assert files and all(not Path(f).is_absolute() and Path(report.out_dir, f).is_file() for f in files)
    engine = report.result("tensorrt", "fp16").engine
    assert engine["status"] in ("skipped", "built") and (engine["status"] == "built" or engine["reason"])


def test_tensorrt_onnx_is_ready(tiny):
    _, report = tiny
    for precision in ("fp32", "int8"):
        readiness = report.result("tensorrt", precision).checks["tensorrt_readiness"]
        assert readiness["ok"], readiness["problems"]
    assert "QuantizeLinear" in report.result("tensorrt", "int8").checks["tensorrt_readiness"]["op_counts"]


@pytest.mark.slow
def test_nhwc_tflite(tmp_path):
    net = make_subnet(TINY, seed=2, resolution=24, epochs=1)
    report = export_model(net, "tflite", "fp32,int8", tmp_path, nhwc=True, **FAST)
    assert report.passed, report.failures
    for precision in ("fp32", "int8"):
        runner = LiteRTRunner(report.result("tflite", precision).file)
        assert list(runner.input["shape"]) == [1, 24, 24, 3]
        assert read_tflite_metadata(report.result("tflite", precision).file)["input_layout"] == "NHWC"
    assert runner.input["dtype"] == np.int8  # full-integer: int8 input tensor


@pytest.mark.parametrize("fmt,precision", [(f, p) for f in ("onnx", "tflite") for p in ("fp32", "fp16")])
def test_mbv3_subnet_export_passes_parity(mbv3, fmt, precision):
    _, report = mbv3
    result = report.result(fmt, precision)
    assert result.status == "passed", result.failures
    assert result.outputs["logits"]["images"] == 64
