"""The coreml format: .mlpackage fp32/fp16/int8, checked as far as Linux allows, runtime parity named unverified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("coremltools", reason="coremltools is an optional extra: pip install 'ofa-deploy[coreml]'")

from conftest import TINY  # noqa: E402
from export.api import export_model  # noqa: E402
from export.coreml_format import check_mlpackage, read_coreml_metadata  # noqa: E402
from ofa.errors import ArtifactError, ExportError  # noqa: E402
from test_export_support import make_subnet  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = make_subnet(TINY, seed=0, resolution=32)
    out = tmp_path_factory.mktemp("coreml")
    return net, out, export_model(net, "coreml", "fp32,fp16,int8", out, calib_images=16, val_images=32, latency_repeats=3)


@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_package_passes_its_checks_and_says_parity_is_unverified(exported, precision):
    net, out, report = exported
    result = report.result("coreml", precision)
    assert result.status == "passed", result.failures
    assert result.runtime_parity == "unverified (Core ML predictions need macOS)"
    assert result.outputs == {} and result.latency is None  # nothing claims a prediction ran
    saved = {(r["format"], r["precision"]): r for r in json.loads((out / "export_report.json").read_text())["results"]}
    assert saved[("coreml", precision)]["runtime_parity"].startswith("unverified")
    package = Path(result.file)
    assert package.is_dir() and package.suffix == ".mlpackage" and result.sha256
    assert result.size_bytes == sum(f.stat().st_size for f in package.rglob("*") if f.is_file())
    checks = result.checks
    assert checks["spec"] == "mlProgram" and checks["input"]["shape"] == [1, 3, 32, 32]
    assert checks["output"]["shape"] == [1, 10]
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert checks["ops"]["conv"] == convs and checks["ops"]["linear"] == 1
    meta = read_coreml_metadata(package)
    assert meta["subnet"] == net.config.to_dict() and meta["precision"] == precision


def test_precisions_differ_where_they_should(exported):
    _, _, report = exported
    sizes = {p: report.result("coreml", p).size_bytes for p in ("fp32", "fp16", "int8")}
    assert sizes["int8"] < sizes["fp16"] < sizes["fp32"], sizes
    int8_ops = report.result("coreml", "int8").checks["ops"]
    assert int8_ops["constexpr_affine_dequantize"] == int8_ops["conv"] + int8_ops["linear"]
    assert "cast" in report.result("coreml", "fp16").checks["ops"]


def test_checks_fail_loudly_on_a_package_that_does_not_match(exported):
    net, _, report = exported
    path = Path(report.result("coreml", "fp32").file)
    other = torch.nn.Sequential(net, torch.nn.Linear(10, 10))  # one layer more
    meta = read_coreml_metadata(path)
    with pytest.raises(ExportError, match="failed its checks: 1 'linear' ops, the PyTorch model has 2"):
        check_mlpackage(path, other, "fp32", meta)
    with pytest.raises(ExportError, match="expected one float32"):
        check_mlpackage(path, net, "fp32", meta | {"input_shape": [1, 3, 64, 64]})
    with pytest.raises(ExportError, match="dequantises 0 weights"):
        check_mlpackage(path, net, "int8", meta)


def test_package_without_metadata_is_an_artifact_error(tmp_path):
    import coremltools as ct

    program = torch.export.export(torch.nn.Linear(4, 2).eval(), (torch.zeros(1, 4),)).run_decompositions({})
    model = ct.convert(program, convert_to="mlprogram", minimum_deployment_target=ct.target.iOS17)
    model.save(str(tmp_path / "bare.mlpackage"))
    with pytest.raises(ArtifactError, match="no 'ofa_metadata'"):
        read_coreml_metadata(tmp_path / "bare.mlpackage")


def test_ofa_verify_hashes_the_whole_package(exported):
    from ofa.zoo.verify import verify_artifact

    _, out, _ = exported
    assert len(verify_artifact(out).checks) == 3
    weights = next((out / "model_int8.mlpackage").rglob("weight.bin"))
    weights.write_bytes(weights.read_bytes()[:-1] + bytes([weights.read_bytes()[-1] ^ 1]))
    with pytest.raises(ArtifactError, match="model_int8.mlpackage does not match"):
        verify_artifact(out)
