"""``ofa export`` end to end: sub-network dir, supernet dir + --subnet, and errors without tracebacks."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from conftest import TINY
from ofa.artifacts import save_subnet, save_supernet
from ofa.cli.main import app
from ofa.errors import ArtifactError
from ofa.nn.supernet import OFASupernet
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig
from test_export_support import digits_info, make_subnet

runner = CliRunner()


def test_export_subnet_dir(tmp_path):
    net = make_subnet(TINY, seed=4, resolution=16, epochs=1)
    save_subnet(net, tmp_path / "subnet", net.info)
    result = runner.invoke(app, ["export", str(tmp_path / "subnet"), "--format", "onnx", "--precision", "fp32,fp16",
                                 "--out", str(tmp_path / "out"), "--val-images", "64", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert report["passed"] and [r["precision"] for r in report["results"]] == ["fp32", "fp16"]
    assert (tmp_path / "out" / "model_fp16.onnx").is_file() and (tmp_path / "out" / "metadata.json").is_file()


def test_export_supernet_with_subnet_config(tmp_path):
    space = get_space(TINY)
    save_supernet(OFASupernet(space, 10), tmp_path / "supernet", digits_info())
    cfg = SubnetConfig.smallest(space, r=16)
    cfg.save(tmp_path / "cfg.json")
    result = runner.invoke(app, ["export", str(tmp_path / "supernet"), "--subnet", str(tmp_path / "cfg.json"),
                                 "--out", str(tmp_path / "out"), "--val-images", "32"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert meta["subnet"] == cfg.to_dict() and meta["labels"] == [str(i) for i in range(10)]


def test_user_errors_exit_non_zero_without_traceback(tmp_path):
    result = runner.invoke(app, ["export", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert result.exit_code == ArtifactError.exit_code and "Traceback" not in result.output
