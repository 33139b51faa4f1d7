"""Artifacts are verified on load: recorded sha256, tensor names and shapes (strict), and `ofa verify PATH`."""

from __future__ import annotations

import json
import logging
import shutil

import pytest
import torch
from typer.testing import CliRunner

from conftest import TINY, randomize
from ofa import SubnetConfig, get_space, load_subnet, load_supernet
from ofa.artifacts import ModelInfo, save_subnet, save_supernet
from ofa.errors import ArtifactError
from ofa.io import sha256_file
from ofa.nn.supernet import OFASupernet
from ofa.zoo.verify import verify_artifact


def _supernet(directory, seed: int, num_classes: int = 10):
    net = randomize(OFASupernet(get_space(TINY), num_classes), seed)
    return save_supernet(net, directory, ModelInfo(num_classes=num_classes)), net


def _edit_manifest(directory, **changes) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def _cli(*args: str):
    from ofa.cli.main import app

    return CliRunner().invoke(app, list(args))


def test_round_trip_loads_the_saved_weights(tmp_path):
    path, net = _supernet(tmp_path / "a", seed=0)
    loaded = load_supernet(path)
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in net.state_dict().items())


def test_same_shape_weights_of_another_run_are_refused(tmp_path):
    a, _ = _supernet(tmp_path / "a", seed=0)
    b, _ = _supernet(tmp_path / "b", seed=1)
    shutil.copy(b / "weights.safetensors", a / "weights.safetensors")
    with pytest.raises(ArtifactError, match="sha256") as err:
        load_supernet(a)
    assert str(a / "weights.safetensors") in str(err.value) and "Restore the original file" in str(err.value)
    result = _cli("verify", str(a))
    assert result.exit_code == ArtifactError.exit_code and "weights.safetensors has sha256" in result.output


def test_swapped_subnet_weights_are_refused(tmp_path):
    space = get_space(TINY)
    cfg = SubnetConfig.sample(space, 3)
    for name, seed in (("x", 0), ("y", 1)):
        net = randomize(OFASupernet(space, 10), seed).extract(cfg)
        save_subnet(net, tmp_path / name, ModelInfo(num_classes=10))
    shutil.copy(tmp_path / "y" / "weights.safetensors", tmp_path / "x" / "weights.safetensors")
    with pytest.raises(ArtifactError, match="x/weights.safetensors has sha256"):
        load_subnet(tmp_path / "x")


def test_edited_num_classes_is_an_artifact_error_saying_what_differs(tmp_path):
    path, _ = _supernet(tmp_path / "a", seed=0)
    _edit_manifest(path, num_classes=7)
    with pytest.raises(ArtifactError) as err:
        load_supernet(path)
    text = str(err.value)
    assert "classifier.weight: file (10, 128) vs manifest (7, 128)" in text
    assert "The weights have 10 classes; the manifest says num_classes=7" in text
    assert str(path / "weights.safetensors") in text and "restore it" in text


def test_edited_space_is_an_artifact_error(tmp_path):
    path, _ = _supernet(tmp_path / "a", seed=0)
    space = json.loads((path / "manifest.json").read_text())["space"]
    space["stages"][-1]["width"] = space["stages"][-1]["width"] + 8
    _edit_manifest(path, space=space)
    with pytest.raises(ArtifactError, match=r"shape\(s\) differ"):
        load_supernet(path)


def test_invalid_space_in_manifest_names_the_manifest(tmp_path):
    path, _ = _supernet(tmp_path / "a", seed=0)
    _edit_manifest(path, space={"id": "broken"})
    with pytest.raises(ArtifactError, match="manifest.json describes an invalid space"):
        load_supernet(path)


def test_extra_tensor_with_a_matching_hash_is_refused_by_the_strict_load(tmp_path):
    from safetensors.torch import load_file, save_file

    path, _ = _supernet(tmp_path / "a", seed=0)
    weights = path / "weights.safetensors"
    state = load_file(str(weights)) | {"leftover.weight": torch.zeros(3)}
    save_file(state, str(weights))
    _edit_manifest(path, files={"weights.safetensors": sha256_file(weights)})  # hash consistent, tensors not
    with pytest.raises(ArtifactError, match=r"unexpected 1 tensor\(s\), e.g. \['leftover.weight'\]"):
        load_supernet(path)


def test_old_manifest_without_hash_loads_with_a_warning(tmp_path, caplog):
    path, net = _supernet(tmp_path / "a", seed=0)
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="ofa.artifacts"):
        loaded = load_supernet(path)
    assert "records no sha256 for weights.safetensors" in caplog.text
    assert torch.equal(loaded.state_dict()["classifier.weight"], net.state_dict()["classifier.weight"])
    assert any("NOT VERIFIED" in line for line in verify_artifact(path).checks)


def test_verify_supernet_and_subnet_ok(tmp_path):
    path, net = _supernet(tmp_path / "a", seed=0)
    result = _cli("verify", str(path))
    assert result.exit_code == 0 and result.output.startswith(f"OK {path} (supernet)")
    cfg = SubnetConfig.sample(net.space, 1)
    save_subnet(net.extract(cfg), tmp_path / "sub", ModelInfo(num_classes=10))
    checked = verify_artifact(tmp_path / "sub")
    assert checked.kind == "subnet" and "subnet.json" in checked.checks[0]
    (tmp_path / "sub" / "subnet.json").write_text(json.dumps(SubnetConfig.sample(net.space, 2).to_dict()))
    with pytest.raises(ArtifactError, match="subnet.json has sha256"):
        verify_artifact(tmp_path / "sub")


def test_verify_latency_table(tmp_path):
    from test_bad_input_support import write_lut

    lut = tmp_path / "lut"
    write_lut(lut)
    result = _cli("verify", str(lut))
    assert result.exit_code == 0 and "(latency-lut)" in result.output and "none missing" in result.output
    lines = (lut / "lut.csv").read_text().splitlines()
    (lut / "lut.csv").write_text("\n".join(lines[:-3]) + "\n")  # three blocks lost
    with pytest.raises(ArtifactError, match=r"incomplete: 3 block\(s\) have no timing"):
        verify_artifact(lut)


def test_verify_zoo_entry(tmp_path):
    from ofa.zoo.card import write_card

    _, net = _supernet(tmp_path / "super", seed=0)
    entry = tmp_path / "entry"
    save_subnet(net.extract(SubnetConfig.sample(net.space, 0)), entry / "subnet", ModelInfo(num_classes=10))
    (entry / "export").mkdir()
    (entry / "export" / "model.onnx").write_bytes(b"stand-in export bytes")
    cfg = SubnetConfig.load(entry / "subnet" / "subnet.json", net.space)
    write_card(entry, {"name": "e", "space": TINY, "device": "d", "budget_ms": 1.0, "mflops": 1.0, "params_m": 0.1,
                       "input": {"layout": "NCHW", "shape": [1, 3, 16, 16], "mean": [0.5] * 3, "std": [0.5] * 3},
                       "arch": cfg.arch_string(net.space), "subnet": cfg.to_dict()})
    checked = verify_artifact(entry)
    assert checked.kind == "zoo-entry" and any(c.startswith("subnet: ") for c in checked.checks)
    (entry / "export" / "model.onnx").write_bytes(b"stand-in export byteZ")  # same size, other content
    with pytest.raises(ArtifactError, match="model.onnx does not match the size/sha256"):
        verify_artifact(entry)


def test_verify_accuracy_predictor_and_refuse_edited_weights(tmp_path):
    from safetensors.numpy import load_file, save_file

    from test_bad_input_support import write_acc_predictor

    path = write_acc_predictor(tmp_path / "acc")
    result = _cli("verify", str(path))
    assert result.exit_code == 0 and "(accuracy-predictor)" in result.output and "shapes and values valid" in result.output
    tensors = load_file(str(path / "predictor.safetensors"))
    key = sorted(tensors)[0]
    tensors[key] = tensors[key][:-1]  # one input feature fewer than the space's encoding
    save_file(tensors, str(path / "predictor.safetensors"))
    result = _cli("verify", str(path))
    assert result.exit_code == ArtifactError.exit_code and "predictor.safetensors" in result.output
    assert "ensemble member 0: layer 0 has shapes" in result.output


def test_verify_refuses_what_it_does_not_know(tmp_path):
    result = _cli("verify", str(tmp_path))
    assert result.exit_code == ArtifactError.exit_code and "no manifest.json or card.json" in result.output


@pytest.mark.parametrize("writer", ["supernet", "lut", "acc_predictor"])
def test_every_manifest_starts_with_one_header_and_a_newer_schema_asks_for_an_upgrade(tmp_path, writer):
    """One header (kind, schema_version, tool, tool_version) and one check on load, whatever the artifact."""
    from latency.table import LatencyTable
    from ofa.search.acc_predictor import AccuracyPredictor
    from test_bad_input_support import write_acc_predictor, write_lut, write_supernet

    write, load, file = {"supernet": (write_supernet, load_supernet, "manifest.json"),
                         "lut": (write_lut, LatencyTable.load, "manifest.json"),
                         "acc_predictor": (write_acc_predictor, AccuracyPredictor.load, "predictor.json")}[writer]
    directory = tmp_path / writer
    write(directory)
    path = directory / file
    manifest = json.loads(path.read_text())
    assert {"kind", "schema_version", "tool", "tool_version"} <= set(manifest) and manifest["tool"] == "ofa-deploy"
    load(directory)
    path.write_text(json.dumps(manifest | {"schema_version": manifest["schema_version"] + 1}))
    with pytest.raises(ArtifactError, match="upgrade ofa-deploy"):
        load(directory)
    path.write_text(json.dumps(manifest | {"kind": "zoo_card"}))
    with pytest.raises(ArtifactError, match="holds a 'zoo_card' artifact, expected"):
        load(directory)
    path.write_text(json.dumps(manifest | {"schema_version": True}))
    with pytest.raises(ArtifactError, match="schema_version"):
        load(directory)


def test_atomic_writes_get_the_mode_a_plain_new_file_gets(tmp_path):
    """mkstemp's temp files are 0600; a result renamed from one must not be hidden from the user's group."""
    import stat

    from ofa.io import atomic_write_json

    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    written = atomic_write_json(tmp_path / "result.json", {"a": 1})
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
