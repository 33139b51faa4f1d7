"""TensorRT without TensorRT: the readiness check, trtexec plumbing; real engines where TensorRT exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from export.tensorrt_export import build_engine_remote, tensorrt_unavailable_reason, trtexec_argv
from export.trt_check import check_tensorrt_ready, tensorrt_op_list
from ofa.errors import ExportError


def _save(tmp_path, nodes, inputs, outputs, inits=(), name="m.onnx", opset=20):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return path


def test_op_list_names_its_source_and_version():
    ops = tensorrt_op_list()
    assert ops["source"].startswith("https://github.com/onnx/onnx-tensorrt/")
    assert ops["list_tensorrt_version"] and "Conv" in ops["supported"] and "Hardmax" in ops["unsupported"]


def test_unsupported_op_and_dynamic_shape_are_reported(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])
    path = _save(tmp_path, [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Hardmax", ["r"], ["y"])], [x], [y])
    report = check_tensorrt_ready(path)
    assert not report["ok"]
    assert report["unsupported_ops"] == ["Hardmax"]
    assert any("Hardmax" in p for p in report["problems"]) and any("dynamic dimension x[0]" in p for p in report["problems"])


def test_nonzero_zero_point_and_unknown_domain_and_opset_are_reported(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.array(3, np.int8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]), helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"])]
    report = check_tensorrt_ready(_save(tmp_path, nodes, [x], [y], inits, opset=21))
    assert len(report["nonzero_zero_points"]) == 2
    assert any("opset 21" in p for p in report["problems"])


def test_trtexec_argv():
    assert trtexec_argv("/r/m.onnx", "/r/m.engine", "fp16") == ["trtexec", "--onnx=/r/m.onnx", "--saveEngine=/r/m.engine", "--fp16"]
    assert "--int8" in trtexec_argv("a", "b", "int8") and "--fp16" not in trtexec_argv("a", "b", "fp32")


@pytest.fixture
def local_transport():
    from devices.spec import TransportSpec
    from devices.transports import make_transport

    transport = make_transport(TransportSpec(kind="local"), 60).open()
    yield transport
    transport.close()


def _relu_onnx(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    return _save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])


def test_remote_build_without_trtexec_is_a_clear_error(tmp_path, local_transport):
    path = _relu_onnx(tmp_path)
    with pytest.raises(ExportError, match="cannot run trtexec-not-installed"):
        build_engine_remote(local_transport, path, "fp16", trtexec="trtexec-not-installed")
    assert (Path(local_transport.remote_path("m.onnx"))).is_file()  # pushed before running


def test_remote_build_runs_trtexec_argv_and_reads_its_summary(tmp_path, local_transport):
    """A stand-in trtexec (TensorRT cannot run here) that prints a real Jetson trtexec log."""
    golden = Path(__file__).parent / "fixtures_devices" / "trtexec_jetson.txt"
    fake = tmp_path / "trtexec"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/argv.txt\ncat {golden}\n")
    fake.chmod(0o755)
    result = build_engine_remote(local_transport, _relu_onnx(tmp_path), "int8", trtexec=str(fake))
    argv = (tmp_path / "argv.txt").read_text().split()
    assert argv[0].startswith("--onnx=") and "--int8" in argv and argv[1].endswith("m.engine")
    assert result["latency"]["median_ms"] > 0 and result["latency"]["source"].startswith("trtexec")


@pytest.mark.skipif(tensorrt_unavailable_reason() is not None, reason=f"TensorRT engine build: {tensorrt_unavailable_reason()}")
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_engine_build_and_parity_on_a_gpu(tmp_path, precision):
    from conftest import TINY
    from export.api import export_model
    from test_export_support import make_subnet

    report = export_model(make_subnet(TINY, 0, 32, epochs=2), "tensorrt", precision, tmp_path, calib_images=100, val_images=128)
    result = report.result("tensorrt", precision)
    assert result.engine["status"] == "built" and result.runtime == "tensorrt" and result.status == "passed"
