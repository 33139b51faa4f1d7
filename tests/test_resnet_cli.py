"""OFA-ResNet50 from the CLI: ``ofa import-official`` -> ``ofa extract`` -> ``ofa export``, parity with the
official logits at every step (the small fixture of tests/test_official_resnet.py: the official class with
width multipliers 0.06/0.09/0.12, perturbed BN), and the typed errors of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ofa.artifacts import load_subnet, load_supernet, verify_model
from ofa.cli.main import app
from ofa.errors import ArtifactError, ConfigError
from ofa.official_resnet import resnet_config_from_official

SMALL = Path(__file__).parent / "fixtures" / "official_resnet50_w0.06-0.12"
SPACE = {"id": "ofa_resnet50_w0.06-0.12", "w_choices": [0.06, 0.09, 0.12], "resolutions": [32, 48, 64]}
ATOL = 1e-5
runner = CliRunner()


def _cli(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def official():
    cases = json.loads((SMALL / "cases.json").read_text())
    return cases, torch.load(SMALL / "inputs.pt", weights_only=True), torch.load(SMALL / "outputs.pt", weights_only=True)


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("resnet")
    (root / "space.json").write_text(json.dumps(SPACE))
    result = _cli("import-official", SMALL / "supernet_state_dict.pt", "--out", root / "supernet", "--space", root / "space.json")
    assert result.exit_code == 0, result.output
    return root


def _write_case(path: Path, case: dict) -> Path:
    path.write_text(json.dumps({"d": case["d"], "e": case["e"], "w": case["w"], "r": case["resolution"]}))
    return path


def test_imported_supernet_artifact_is_verified_and_reproduces_the_official_logits(imported, official):
    cases, inputs, outputs = official
    manifest = json.loads((imported / "supernet" / "manifest.json").read_text())
    assert manifest["kind"] == "supernet" and manifest["family"] == "resnet" and manifest["num_classes"] == 10
    assert "sha256" in verify_model(imported / "supernet")[0]
    net = load_supernet(imported / "supernet")
    for i, case in enumerate(cases):
        net.set_active(resnet_config_from_official(net.space, case["d"], case["e"], case["w"], case["resolution"]))
        with torch.no_grad():
            torch.testing.assert_close(net(inputs[f"x{i}"]), outputs[f"y{i}"], rtol=0, atol=ATOL)


CASE = 2  # stem-skipping, mixed widths, resolution 64


@pytest.fixture(scope="module")
def extracted(imported, official):
    cases, _, _ = official
    result = _cli("extract", imported / "supernet", "--subnet", _write_case(imported / "cfg.json", cases[CASE]),
                  "--out", imported / "sub")
    assert result.exit_code == 0, result.output
    return imported / "sub"


def _export(subnet: Path, out: Path, fmt: str) -> dict:
    result = _cli("export", subnet, "--out", out, "--format", fmt, "--calib-images", "8", "--val-images", "8")
    assert result.exit_code == 0, result.output
    report = json.loads((out / "export_report.json").read_text())
    exported = report["results"][0]
    assert exported["status"] == "passed" and exported["runtime_parity"] == "verified"
    assert exported["outputs"]["logits"]["max_abs_diff"] < 1e-4
    return exported


def test_extracted_artifact_reproduces_the_official_logits(extracted, official):
    cases, inputs, outputs = official
    static = load_subnet(extracted)
    assert type(static).__name__ == "StaticResNet" and len(static.input_stem) == 2  # the stem conv skipped
    assert static.config.d == tuple(cases[CASE]["d"]) and "sha256" in verify_model(extracted)[0]
    with torch.no_grad():
        torch.testing.assert_close(static(inputs[f"x{CASE}"]), outputs[f"y{CASE}"], rtol=0, atol=ATOL)


def test_export_to_onnx_keeps_the_official_logits(extracted, official, tmp_path):
    cases, inputs, outputs = official
    _export(extracted, tmp_path / "export", "onnx")
    meta = json.loads((tmp_path / "export" / "metadata.json").read_text())
    assert meta["space"] == SPACE["id"] and meta["subnet"]["d"] == cases[CASE]["d"] and meta["resolution"] == 64
    import onnxruntime

    session = onnxruntime.InferenceSession(str(tmp_path / "export" / "model_fp32.onnx"))
    name = session.get_inputs()[0].name  # the export has a static batch of 1
    got = np.concatenate([session.run(None, {name: x[None]})[0] for x in inputs[f"x{CASE}"].numpy()])
    torch.testing.assert_close(torch.from_numpy(got), outputs[f"y{CASE}"], rtol=0, atol=1e-4)


def test_export_to_tflite_passes_its_parity_validation(extracted, tmp_path):
    pytest.importorskip("litert_torch")
    exported = _export(extracted, tmp_path / "export", "tflite")
    assert exported["format"] == "tflite" and (tmp_path / "export" / "model_fp32.tflite").is_file()


def test_extract_with_bn_recalibration_records_it_and_changes_the_statistics(imported, official, tmp_path):
    cases, _, _ = official
    result = _cli("extract", imported / "supernet", "--subnet", _write_case(tmp_path / "cfg.json", cases[0]),
                  "--out", tmp_path / "sub", "--bn-calib", "builtin", "--calib-images", "32")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "sub" / "manifest.json").read_text())
    assert manifest["complexity"]["bn_calib_images"] == 32 and manifest["family"] == "resnet"
    plain = load_supernet(imported / "supernet").extract(load_subnet(tmp_path / "sub").config)
    recalibrated = load_subnet(tmp_path / "sub")
    assert not torch.allclose(plain.blocks[0].conv1.bn.running_mean, recalibrated.blocks[0].conv1.bn.running_mean)


@pytest.mark.parametrize("change, named", [
    ({"e": [0.3] * 18}, "[0.2, 0.25, 0.35]"),
    ({"w": [3] * 6}, "[0, 1, 2]"),
    ({"d": [2, 2, 2]}, "needs 5"),
    ({"r": 224}, "[32, 48, 64]"),
    ({"ks": [3] * 20}, "valid: space, d, e, w, r"),
])
def test_a_malformed_resnet_config_is_a_config_error_naming_the_choices(imported, tmp_path, change, named):
    cfg = {"d": [2] * 5, "e": [0.35] * 18, "w": [2] * 6, "r": 32} | change
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    result = _cli("extract", imported / "supernet", "--subnet", tmp_path / "cfg.json", "--out", tmp_path / "sub")
    assert result.exit_code == ConfigError.exit_code and named in result.output, result.output
    assert not (tmp_path / "sub").exists()


def test_a_tampered_resnet_artifact_is_an_artifact_error(imported, tmp_path):
    import shutil

    shutil.copytree(imported / "supernet", tmp_path / "copy")
    weights = tmp_path / "copy" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(ArtifactError, match="sha256"):
        load_supernet(tmp_path / "copy")
    shutil.copytree(imported / "supernet", tmp_path / "edited")
    manifest = json.loads((tmp_path / "edited" / "manifest.json").read_text())
    (tmp_path / "edited" / "manifest.json").write_text(json.dumps(manifest | {"num_classes": 7}))
    with pytest.raises(ArtifactError, match="The weights have 10 classes; the manifest says num_classes=7"):
        load_supernet(tmp_path / "edited")
    manifest["space"]["w_choices"] = [0.06, 0.09, 0.15]  # the widest stage no longer fits the weights
    (tmp_path / "edited" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="shape"):
        load_supernet(tmp_path / "edited")


def test_bad_checkpoints_are_typed_errors_naming_what_was_expected(tmp_path):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((SMALL / "supernet_state_dict.pt").read_bytes()[:5000])
    result = _cli("import-official", truncated, "--out", tmp_path / "a")
    assert result.exit_code == ArtifactError.exit_code and "weights-only PyTorch checkpoint" in result.output
    torch.save({"features.0.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    result = _cli("import-official", tmp_path / "other.pt", "--out", tmp_path / "b")
    assert result.exit_code == ArtifactError.exit_code and "input_stem" in result.output and "first_conv" in result.output
    # the full-size default space does not fit the small widths: the error says how to pass the right one
    result = _cli("import-official", SMALL / "supernet_state_dict.pt", "--out", tmp_path / "c")
    assert result.exit_code == ArtifactError.exit_code and "--space" in result.output
    result = _cli("import-official", SMALL / "supernet_state_dict.pt", "--out", tmp_path / "d",
                  "--space", "ofa_mbv3_d234_e346_k357_w1.0")
    assert result.exit_code == ConfigError.exit_code and "ofa_resnet50" in result.output
    torch.save({"first_conv.conv.weight": torch.zeros(16, 3, 3, 3)}, tmp_path / "mbv3.pt")
    result = _cli("import-official", tmp_path / "mbv3.pt", "--out", tmp_path / "e", "--space", "ofa_resnet50")
    assert result.exit_code == ArtifactError.exit_code and "input_stem" in result.output
    assert not any((tmp_path / d).exists() for d in "abcde")


def test_proxy_commands_refuse_a_resnet_supernet_with_a_config_error(imported, tmp_path):
    """Training takes it (tests/test_resnet_train.py); zero-cost proxy tables do not yet."""
    proxy = _cli("proxy", "score", "--supernet", imported / "supernet", "--data", "builtin",
                 "--out", tmp_path / "p.csv")
    assert proxy.exit_code == ConfigError.exit_code and "OFA-ResNet supernet" in proxy.output, proxy.output
