"""The openvino format: IR fp32 / fp16 / int8 (NNCF) validated in the OpenVINO runtime, f32 inference enforced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ov = pytest.importorskip("openvino", reason="OpenVINO is an optional extra: pip install 'ofa-deploy[openvino]'")

from conftest import TINY  # noqa: E402
from export.api import export_model  # noqa: E402
from export.openvino_format import OpenVINORunner, compile_f32, read_openvino_metadata  # noqa: E402
from export.validate import TOLERANCES  # noqa: E402
from ofa.errors import ArtifactError  # noqa: E402
from test_export_support import make_subnet  # noqa: E402

FAST = dict(calib_images=100, val_images=128, latency_repeats=5)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = make_subnet(TINY, seed=0, resolution=32, epochs=2)
    out = tmp_path_factory.mktemp("ov")
    return net, export_model(net, "openvino", "fp32,fp16,int8", out, **FAST)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_ir_passes_parity_in_the_openvino_runtime(exported, precision):
    _, report = exported
    result = report.result("openvino", precision)
    assert result.status == "passed", result.failures
    assert result.runtime == "openvino" and result.runtime_parity == "verified"
    assert result.checks["inference_precision"] == "f32"
    metrics = result.outputs["logits"]
    assert metrics["images"] == 128 and metrics["top1_agreement"] >= TOLERANCES[precision].min_top1_agreement
    if precision == "fp32":
        assert metrics["max_abs_diff"] < 1e-4
    assert result.file.endswith(f"model_{precision}.xml")
    xml, weights = Path(result.file), Path(result.file).with_suffix(".bin")
    assert result.size_bytes == xml.stat().st_size + weights.stat().st_size > 1000  # size counts the .bin weights


def test_fp16_weights_are_smaller_and_int8_is_judged_on_labels(exported):
    _, report = exported
    sizes = {p: report.result("openvino", p).size_bytes for p in ("fp32", "fp16", "int8")}
    assert sizes["fp16"] < sizes["fp32"] and sizes["int8"] < sizes["fp32"], sizes
    weights = {p: report.result("openvino", p).checks["weights_bytes"] for p in ("fp32", "fp16", "int8")}
    assert weights["int8"] < weights["fp16"] < weights["fp32"], weights  # the .xml grows with FakeQuantize nodes
    int8 = report.result("openvino", "int8").outputs["logits"]
    assert int8["accuracy_reference"] > 0.4 and int8["accuracy_drop"] <= TOLERANCES["int8"].max_accuracy_drop


def test_metadata_round_trip(exported):
    net, report = exported
    for precision in ("fp32", "fp16", "int8"):
        meta = read_openvino_metadata(report.result("openvino", precision).file)
        assert meta["space"] == TINY and meta["subnet"] == net.config.to_dict() and meta["precision"] == precision
        assert meta["labels"] == net.info.labels and meta["resolution"] == 32


def test_f32_hint_is_applied_where_the_cpu_would_run_bf16(exported):
    _, report = exported
    xml = report.result("openvino", "fp32").file
    core = ov.Core()
    assert compile_f32(ov, xml).get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32
    if "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):  # this machine: AVX512-BF16
        assert core.compile_model(xml, "CPU").get_property("INFERENCE_PRECISION_HINT") == ov.Type.bf16
    runner = OpenVINORunner(xml)
    image = np.zeros((1, 3, 32, 32), np.float32)
    assert runner.inference_precision == "f32" and runner(image).shape == (1, 10)


def test_missing_metadata_and_unreadable_ir_are_typed_errors(tmp_path):
    from ofa.errors import ExportError

    param = ov.opset13.parameter([1, 3], ov.Type.f32)
    model = ov.Model([ov.opset13.relu(param)], [param], "bare")
    ov.save_model(model, str(tmp_path / "bare.xml"))
    with pytest.raises(ArtifactError, match="no ofa metadata"):
        read_openvino_metadata(tmp_path / "bare.xml")
    (tmp_path / "junk.xml").write_text("<not-ir/>")
    with pytest.raises(ExportError, match="OpenVINO cannot load"):
        OpenVINORunner(tmp_path / "junk.xml")


def test_ofa_verify_checks_the_ir_weights_too(exported):
    from ofa.zoo.verify import verify_artifact

    _, report = exported
    out = Path(report.out_dir)
    assert len(verify_artifact(out).checks) == 3
    weights = out / "model_fp16.bin"
    weights.write_bytes(weights.read_bytes()[:-4] + b"\x00\x00\x00\x01")  # same size, other weights
    with pytest.raises(ArtifactError, match="model_fp16.xml does not match the size/sha256"):
        verify_artifact(out)


def test_a_runtime_that_ignores_the_f32_hint_is_refused(exported, monkeypatch):
    from ofa.errors import ExportError

    class Bf16Compiled:
        def get_property(self, name):
            return ov.Type.bf16

    monkeypatch.setattr(ov.Core, "compile_model", lambda self, *args, **kwargs: Bf16Compiled())
    with pytest.raises(ExportError, match="ignored INFERENCE_PRECISION_HINT=f32"):
        compile_f32(ov, exported[1].result("openvino", "fp32").file)
