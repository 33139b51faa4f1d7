import json
import subprocess
import sys

from typer.testing import CliRunner

from ofa.cli.main import app
from ofa.errors import ArtifactError

runner = CliRunner()
OFA = [sys.executable, "-m", "ofa.cli.main"]


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("env", "extract", "import-official", "space"):
        assert command in result.output


def test_env_reports_versions():
    result = runner.invoke(app, ["env", "--json"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    import torch

    assert info["torch"] == torch.__version__
    assert info["tensorrt"]  # a version or "not installed"
    import importlib.metadata as md

    for dist in ("openvino", "executorch", "coremltools"):  # the optional deployment runtimes are listed too
        try:
            assert info[dist] == md.version(dist)
        except md.PackageNotFoundError:
            assert info[dist] == "not installed"
    assert int(info["cpu cores"]) >= 1


def test_space_show():
    result = runner.invoke(app, ["space", "show", "ofa_mbv3_d234_e346_k357_w1.0"])
    assert result.exit_code == 0
    assert json.loads(result.output)["stage_channels"] == [24, 40, 80, 112, 160]


def test_user_error_is_one_line_without_traceback(tmp_path):
    (tmp_path / "c.json").write_text('{"space": "ofa_tiny_in32_d12_e34_k35_w1.0", "ks": [3], "e": [3], "d": [1], "r": 16}')
    proc = subprocess.run(OFA + ["extract", str(tmp_path / "missing"), "--subnet", str(tmp_path / "c.json"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == ArtifactError.exit_code
    assert "error:" in proc.stderr and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
