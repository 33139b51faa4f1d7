"""A wrong model never passes: broken exports fail validation, --allow-mismatch keeps them marked."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from conftest import TINY
from export.api import export_model
from export.context import ExportContext, Exported
from export.formats import EXPORTERS, OnnxExporter, register_exporter
from export.runtimes import OnnxRuntimeRunner
from export.validate import compare, judge, tolerance_for
from ofa.errors import ConfigError, ExportError
from test_export_support import make_subnet


class PerturbedOnnx(OnnxExporter):
    """Exports a copy of the model whose weights were changed after export (a deliberately broken file)."""

    name = "onnx-perturbed-test"

    def export(self, ctx: ExportContext, precision: str) -> Exported:
        broken = copy.deepcopy(ctx.model)
        with torch.no_grad():
            broken.classifier.weight.mul_(-1.0)
        original, ctx.model, ctx.cache = ctx.model, broken, {}
        try:
            exported = super().export(ctx, precision)
        finally:
            ctx.model, ctx.cache = original, {}
        path = exported.path.rename(exported.path.with_name(f"model_perturbed_{precision}.onnx"))
        return Exported(path, lambda: OnnxRuntimeRunner(path), exported.runtime, precision)


@pytest.fixture(scope="module", autouse=True)
def perturbed_format():
    """Registered only while this module runs, so other tests' "every format" loops never see it."""
    register_exporter(PerturbedOnnx())
    yield
    EXPORTERS._items.pop(PerturbedOnnx.name)


@pytest.fixture(scope="module")
def net():
    return make_subnet(TINY, seed=3, resolution=16, epochs=1)


def test_broken_export_fails_and_is_not_written(net, tmp_path):
    with pytest.raises(ExportError) as info:
        export_model(net, f"onnx,{PerturbedOnnx.name}", "fp32", tmp_path, calib_images=50, val_images=64, latency_repeats=2)
    message = str(info.value)
    assert f"{PerturbedOnnx.name}/fp32" in message and "max abs diff" in message and "--allow-mismatch" in message
    assert "onnx/fp32" not in message  # the good export passed
    report = json.loads((tmp_path / "export_report.json").read_text())
    status = {r["format"]: r["status"] for r in report["results"]}
    assert status == {"onnx": "passed", PerturbedOnnx.name: "failed"} and report["passed"] is False
    assert (tmp_path / "model_fp32.onnx").is_file() and not (tmp_path / "model_perturbed_fp32.onnx").exists()
    assert report["results"][1]["file"] is None


def test_allow_mismatch_writes_and_marks(net, tmp_path):
    report = export_model(net, PerturbedOnnx.name, "fp32", tmp_path, calib_images=50, val_images=64,
                          latency_repeats=2, allow_mismatch=True)
    result = report.result(PerturbedOnnx.name, "fp32")
    assert result.status == "mismatch" and result.failures and not report.passed
    assert result.file and result.size_bytes > 0


def test_compare_and_judge_catch_every_kind_of_failure():
    ref = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]], np.float32)
    assert judge("y", compare(ref, ref.copy(), np.array([0, 1, 0])), tolerance_for("fp32")) == []
    swapped = ref[:, ::-1].copy()
    failures = judge("y", compare(ref, swapped, np.array([0, 1, 0])), tolerance_for("int8"))
    assert any("agreement" in f for f in failures) and any("accuracy drop" in f for f in failures)
    nan = ref.copy()
    nan[0, 0] = np.nan
    assert any("non-finite" in f for f in judge("y", compare(ref, nan), tolerance_for("fp16")))
    assert "shape" in judge("y", compare(ref, ref[:, :1]), tolerance_for("fp32"))[0]


def test_unknown_format_or_precision_is_a_config_error(net, tmp_path):
    with pytest.raises(ConfigError, match="known: coreml, executorch, onnx.*openvino, tensorrt, tflite"):
        export_model(net, "tfjs", "fp32", tmp_path)
    with pytest.raises(ConfigError, match="fp32, fp16, int8"):
        export_model(net, "onnx", "int4", tmp_path)
