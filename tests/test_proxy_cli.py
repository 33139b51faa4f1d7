"""``ofa proxy score`` / ``ofa proxy report`` on the tiny space: the table, resuming, correlations, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import TINY, randomize
from ofa import get_space
from ofa.artifacts import ModelInfo, save_supernet
from ofa.cli.main import app
from ofa.io import sha256_file
from ofa.nn.supernet import OFASupernet
from ofa.search.accuracy_table import sample_configs

FAST = ["--batch-size", "8"]


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """A saved tiny supernet and an accuracy table of 3 of its sub-networks in `ofa acc build`'s format.

    The top-1 values are made up (measuring them takes ~10 s): scoring reads only the table's networks."""
    root = tmp_path_factory.mktemp("proxy")
    supernet = randomize(OFASupernet(get_space(TINY), 10)).eval()
    save_supernet(supernet, root / "super", ModelInfo(num_classes=10))
    configs = sample_configs(supernet.space, 3, seed=0)
    (root / "acc").mkdir()
    pd.DataFrame({"index": range(3), "subnet": [c.to_json() for c in configs], "r": [c.r for c in configs],
                  "top1": [0.5, 0.7, 0.6]}).to_csv(root / "acc" / "acc_table.csv", index=False)
    settings = {"supernet_sha256": sha256_file(root / "super" / "weights.safetensors"), "samples": 3, "seed": 0}
    (root / "acc" / "acc_manifest.json").write_text(json.dumps({"schema_version": 1, "settings": settings}))
    return root


def _ofa(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_score_the_accuracy_tables_networks_then_resume_and_report(dirs, tmp_path):
    table_file = tmp_path / "proxies.csv"
    first = _ofa("proxy", "score", "--supernet", dirs / "super", "--acc", dirs / "acc", "--out", table_file,
                 "--proxies", "synflow,naswot", *FAST)
    assert first.exit_code == 0, first.output
    table = pd.read_csv(table_file)
    acc = pd.read_csv(dirs / "acc" / "acc_table.csv")
    assert table["index"].tolist() == acc["index"].tolist() and table["top1"].tolist() == acc["top1"].tolist()
    for proxy in ("synflow", "naswot"):
        assert table[proxy].notna().all() and (table[f"{proxy}_s"] > 0).all()
    assert "kendall_tau" in first.output and "naswot" in first.output
    again = _ofa("proxy", "score", "--supernet", dirs / "super", "--acc", dirs / "acc", "--out", table_file,
                 "--proxies", "synflow,naswot", *FAST)
    assert again.exit_code == 0 and pd.read_csv(table_file).equals(table)  # resumed: nothing re-scored
    report = _ofa("proxy", "report", table_file, "--json")
    rows = json.loads(report.output)
    assert [r["score"] for r in rows] == ["mflops", "params_m", "naswot", "synflow"]
    flops = next(r for r in rows if r["score"] == "mflops")
    assert flops["kendall_tau"] == pytest.approx(_tau(table["mflops"], table["top1"]))
    assert all(r["n"] == 3 and (r["kendall_tau"] is None or -1 <= r["kendall_tau"] <= 1) for r in rows)


def _tau(x, y):
    from scipy.stats import kendalltau

    return round(kendalltau(x, y).statistic, 4)


def test_sampled_networks_without_an_accuracy_table(dirs, tmp_path):
    out = tmp_path / "t.jsonl"
    result = _ofa("proxy", "score", "--supernet", dirs / "super", "--n", 2, "--proxies", "grad_norm,zico,meco",
                  "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    table = pd.read_json(out, lines=True)
    assert len(table) == 2 and {"grad_norm", "zico", "meco", "mflops", "params_m"} <= set(table.columns)
    assert table[["grad_norm", "zico", "meco"]].notna().all().all()
    assert "synflow" not in table.columns and "top1" not in table.columns
    no_accuracy = _ofa("proxy", "report", out)
    assert no_accuracy.exit_code == 5 and "--acc" in no_accuracy.output
    changed = _ofa("proxy", "score", "--supernet", dirs / "super", "--n", 2, "--out", out, *FAST)
    assert changed.exit_code == 5 and "other settings" in changed.output


@pytest.mark.parametrize("args, code, says", [
    (["--proxies", "snip"], 3, "unknown zero-cost proxy 'snip'"),
    (["--out", "table.txt"], 3, "*.csv or *.jsonl"),
    (["--batches", "0"], 3, "--batches must be at least 1"),
    (["--batches", "1"], 3, "zico compares gradients across batches"),
    (["--acc", "nowhere"], 5, "acc_manifest.json"),
    (["--n", "-1"], 3, "--n must be at least 1"),
])
def test_bad_input_is_a_typed_one_line_error(dirs, tmp_path, monkeypatch, args, code, says):
    monkeypatch.chdir(tmp_path)
    base = {"--out": "t.csv", "--n": "1"}
    base.update(dict(zip(args[::2], args[1::2])))
    flat = [x for kv in base.items() for x in kv]
    result = _ofa("proxy", "score", "--supernet", dirs / "super", *flat, *FAST)
    assert result.exit_code == code and says in result.output and "Traceback" not in result.output


def test_an_accuracy_table_of_another_supernet_is_refused(dirs, tmp_path):
    other = tmp_path / "acc"
    other.mkdir()
    (other / "acc_table.csv").write_text((dirs / "acc" / "acc_table.csv").read_text())
    (other / "acc_manifest.json").write_text(json.dumps({"schema_version": 1, "settings": {"supernet_sha256": "0" * 64}}))
    result = _ofa("proxy", "score", "--supernet", dirs / "super", "--acc", other, "--out", tmp_path / "t.csv", *FAST)
    assert result.exit_code == 5 and "measured on another supernet" in result.output
