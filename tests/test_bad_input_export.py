"""``ofa export --opset``: an opset the exporter would not write is refused with the supported range; one it
writes is honoured, and the report states the opset the file declares."""

from __future__ import annotations

import json

import onnx
import pytest
import torch
from typer.testing import CliRunner

from conftest import TINY
from export.onnx_export import MIN_OPSET, export_onnx, supported_opsets
from ofa.artifacts import save_subnet
from ofa.cli.main import app
from ofa.errors import ConfigError
from test_export_support import make_subnet

runner = CliRunner()


@pytest.fixture(scope="module")
def subnet_dir(tmp_path_factory):
    net = make_subnet(TINY, seed=3, resolution=16)
    out = tmp_path_factory.mktemp("subnet") / "subnet"
    save_subnet(net, out, net.info)
    return out


@pytest.mark.parametrize("opset", [3, MIN_OPSET - 1, 10_000])
def test_export_onnx_refuses_opsets_it_would_not_write(tmp_path, opset):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())
    with pytest.raises(ConfigError, match=f"opset {opset} is not supported.*{MIN_OPSET}\\.\\.{supported_opsets()[1]}"):
        export_onnx(model, torch.zeros(1, 3, 8, 8), tmp_path / "m.onnx", opset=opset)
    assert not (tmp_path / "m.onnx").exists()


def test_cli_opset_3_is_refused_before_any_work(subnet_dir, tmp_path):
    result = runner.invoke(app, ["export", str(subnet_dir), "--opset", "3", "--out", str(tmp_path / "out")])
    assert result.exit_code == ConfigError.exit_code and isinstance(result.exception, SystemExit)
    assert "opset 3 is not supported" in result.output and f"{MIN_OPSET}.." in result.output
    assert not (tmp_path / "out" / "export_report.json").exists()


def test_cli_opset_is_honoured_and_reported(subnet_dir, tmp_path):
    opset = MIN_OPSET + 1  # not the default, so a silent fallback would show
    result = runner.invoke(app, ["export", str(subnet_dir), "--opset", str(opset), "--out", str(tmp_path / "out"),
                                 "--val-images", "16"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    written = [o.version for o in onnx.load(str(tmp_path / "out" / "model_fp32.onnx")).opset_import if o.domain == ""]
    assert written == [opset] and report["results"][0]["checks"]["opset"] == opset
    assert report["settings"]["opset"] == opset


@pytest.mark.parametrize("fmt,module,extra", [("openvino", "openvino", "openvino"),
                                               ("executorch", "executorch", "executorch"),
                                               ("coreml", "coremltools", "coreml")])
def test_a_format_without_its_runtime_fails_naming_the_extra(subnet_dir, tmp_path, monkeypatch, fmt, module, extra):
    from ofa.errors import ExportError

    monkeypatch.setitem(__import__("sys").modules, module, None)  # as if the optional extra were not installed
    result = runner.invoke(app, ["export", str(subnet_dir), "--format", fmt, "--val-images", "8", "--calib-images",
                                 "8", "--out", str(tmp_path / "out")])
    assert result.exit_code == ExportError.exit_code, result.output
    assert f"pip install 'ofa-deploy[{extra}]'" in result.output
    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert report["results"][0]["status"] == "failed" and not list((tmp_path / "out").glob("model_*"))
