"""Commands named in "every bad input a typed error": one red line and exit code 2, never a traceback.
``ofa search``, ``ofa import-official``, ``ofa train --resume`` and ``ofa lut build``'s head size."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from conftest import IN32, TINY
from ofa.cli.main import app
from ofa.errors import ArtifactError, ConfigError
from test_bad_input_support import write_acc_predictor, write_lut, write_supernet

runner = CliRunner()
OFA = [sys.executable, "-m", "ofa.cli.main"]


def _cli(*args: str):
    result = runner.invoke(app, list(args))
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture
def search_inputs(tmp_path):
    write_supernet(tmp_path / "supernet")
    write_acc_predictor(tmp_path / "acc")
    return tmp_path


def _search(root, *extra: str):
    return _cli("search", "--supernet", str(root / "supernet"), "--acc-predictor", str(root / "acc"),
                "--generations", "3", "--population", "8", *extra)


# ----- 1. ofa search -----------------------------------------------------------------------------------
def test_search_runs_with_a_lut_of_its_space(search_inputs):
    write_lut(search_inputs / "lut")
    result = _search(search_inputs, "--device", str(search_inputs / "lut"), "--latency-ms", "1000", "--json")
    assert result.exit_code == 0, result.output
    assert "ofa_tiny" in result.stdout and '"feasible": true' in result.stdout


def test_search_lut_for_another_space_is_one_line(search_inputs):
    write_lut(search_inputs / "lut", IN32, resolutions=(32,))
    result = _search(search_inputs, "--device", str(search_inputs / "lut"), "--latency-ms", "5")
    assert result.exit_code == ConfigError.exit_code and f"is for space {IN32}" in result.output


def test_search_missing_accuracy_dir_is_one_line(search_inputs):
    result = _cli("search", "--supernet", str(search_inputs / "supernet"), "--acc-predictor",
                  str(search_inputs / "nope"))
    assert result.exit_code == ArtifactError.exit_code and "nope is not an accuracy predictor directory" in result.output


def test_search_device_name_says_how_to_make_its_table(search_inputs):
    result = _search(search_inputs, "--device", "local-ort-cpu", "--latency-ms", "5")
    assert result.exit_code == ConfigError.exit_code
    assert "is a device name" in result.output and "ofa lut build --device local-ort-cpu" in result.output
    unknown = _search(search_inputs, "--device", "no-such-thing", "--latency-ms", "5")
    assert unknown.exit_code == ConfigError.exit_code and "does not exist" in unknown.output


def test_search_error_through_the_real_entry_point_has_no_traceback(search_inputs):
    proc = subprocess.run(OFA + ["search", "--supernet", str(search_inputs / "supernet"), "--acc-predictor",
                                 str(search_inputs / "acc"), "--device", "local-ort-cpu"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == ConfigError.exit_code and "Traceback" not in proc.stderr and "error:" in proc.stderr


# ----- 9. ofa import-official ------------------------------------------------------------------------------
def test_import_official_zero_byte_checkpoint(tmp_path):
    from ofa.official import read_checkpoint

    empty = tmp_path / "ofa.pth"
    empty.write_bytes(b"")
    with pytest.raises(ArtifactError, match="empty"):
        read_checkpoint(empty)
    result = _cli("import-official", str(empty), "--out", str(tmp_path / "out"))
    assert result.exit_code == ArtifactError.exit_code and "ofa.pth" in result.output and "empty" in result.output


@pytest.mark.parametrize("kind", ["pickled-object", "junk", "truncated"])
def test_import_official_never_advises_weights_only_false(tmp_path, kind):
    from ofa.official import read_checkpoint

    path = tmp_path / "ofa.pth"
    if kind == "pickled-object":
        torch.save({"when": datetime.date(2020, 1, 1)}, path)
    elif kind == "junk":
        path.write_bytes(b"this is not a checkpoint at all")
    else:
        torch.save({"w": torch.zeros(4)}, path)
        path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(ArtifactError) as info:
        read_checkpoint(path)
    message = str(info.value)
    assert "ofa.pth" in message and "weights_only" not in message and "trust" not in message
    if kind == "pickled-object":
        assert "pickled Python objects" in message and "datetime.date" in message


# ----- 7. ofa train --resume with a corrupt config.yaml ---------------------------------------------------
@pytest.mark.parametrize("content", [b"device: [cpu\nspace: {", b"\xff\xfe\x00\x01", b"- just\n- a list\n"])
def test_resume_with_corrupt_config_yaml_is_a_config_error(tmp_path, content):
    from ofa.train import resume

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_bytes(content)
    with pytest.raises(ConfigError, match="config.yaml.*--resume"):
        resume(run)
    result = _cli("train", "--resume", str(run))
    assert result.exit_code == ConfigError.exit_code and "config.yaml" in result.output


# ----- 10. ofa lut build says which head it times ------------------------------------------------------------
def test_lut_build_states_the_classifier_size_and_the_option(tmp_path):
    default = _cli("lut", "build", "--device", "no-such-device", "--space", TINY, "--out", str(tmp_path / "a"))
    assert default.exit_code == ConfigError.exit_code and "unknown device" in default.output
    assert "1000 outputs" in default.output and "--num-classes" in default.output
    ten = _cli("lut", "build", "--device", "no-such-device", "--space", TINY, "--out", str(tmp_path / "b"),
               "--num-classes", "10")
    assert "10 outputs" in ten.output and "1000" not in ten.output
