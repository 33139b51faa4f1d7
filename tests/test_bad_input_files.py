"""Bad files end in a typed error naming the file (or a correct result), never a raw traceback:
sub-network JSON, space files, latency tables (lut.csv values, completeness) and e2e.csv."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import TINY
from latency.table import LatencyTable
from ofa.cli.main import app
from ofa.errors import ArtifactError, ConfigError
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig
from test_bad_input_support import write_e2e, write_lut

runner = CliRunner()


def _cli(*args: str):
    result = runner.invoke(app, list(args))
    assert isinstance(result.exception, (SystemExit, type(None))), result.exception  # no raw exception escaped
    assert "Traceback" not in result.output
    return result


def _good_cfg() -> dict:
    return SubnetConfig.smallest(TINY, r=16).to_dict()


# ----- 2. sub-network JSON files ----------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"   \n", b"{not json", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", b'{"ks": [3,'],
                         ids=["empty", "blank", "not-json", "binary", "cut-off"])
def test_subnet_file_that_is_not_json_is_a_config_error_naming_it(tmp_path, content):
    path = tmp_path / "cfg.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="cfg.json"):
        SubnetConfig.load(path)


def test_lut_predict_reports_a_bad_subnet_file_in_one_line(tmp_path):
    write_lut(tmp_path / "lut")
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_good_cfg()))
    bad.write_bytes(b"\x00\x01binary\xff")
    ok = _cli("lut", "predict", str(tmp_path / "lut"), "--subnet", str(good))
    assert ok.exit_code == 0 and json.loads(ok.stdout)["latency_ms"] > 0
    result = _cli("lut", "predict", str(tmp_path / "lut"), "--subnet", str(bad))
    assert result.exit_code == ConfigError.exit_code and "bad.json" in result.output and "not UTF-8" in result.output


# ----- 3. non-integer / non-finite values ------------------------------------------------------------
@pytest.mark.parametrize("key,value", [("r", "NaN"), ("r", "1e400"), ("r", "-Infinity"), ("r", "16.5"), ("r", '"16"'),
                                       ("d", "[1, NaN, 1]"), ("ks", None), ("e", None)])
def test_non_integer_or_non_finite_values_are_config_errors(tmp_path, key, value):
    cfg = _good_cfg()
    text = json.dumps(cfg)
    if value is None:  # a non-finite value inside a per-slot list
        cfg[key][0] = 1e400
        text = json.dumps(cfg)  # json writes Infinity
    else:
        text = text.replace(f'"{key}": {json.dumps(cfg[key])}', f'"{key}": {value}')
    path = tmp_path / "cfg.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"'{key}' must hold"):
        SubnetConfig.load(path)


def test_integral_floats_still_load(tmp_path):
    cfg = _good_cfg() | {"r": 16.0}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    assert SubnetConfig.load(path).r == 16


# ----- 4. space files --------------------------------------------------------------------------------
def _space_file(tmp_path, **changes):
    data = get_space(TINY).model_dump(mode="json") | {"id": "custom"} | changes
    path = tmp_path / "space.json"
    path.write_text(json.dumps(data))
    return path


def test_channel_divisor_zero_is_a_config_error(tmp_path):
    path = _space_file(tmp_path, channel_divisor=0)
    with pytest.raises(ConfigError, match="channel_divisor"):
        get_space(path)
    result = _cli("space", "show", str(path))
    assert result.exit_code == ConfigError.exit_code and "channel_divisor" in result.output and "space.json" in result.output


@pytest.mark.parametrize("field,values,bound", [("d_choices", [1, 50], "1..8"), ("ks_choices", [3, 11], "1..9"),
                                                ("e_choices", [0, 3], "1..8"), ("resolutions", [4, 32], "8..1024"),
                                                ("resolutions", [32, 4096], "8..1024")])
def test_space_dimensions_outside_bounds_are_refused_with_the_bound(tmp_path, field, values, bound):
    with pytest.raises(ConfigError, match=f"{field}.*{bound}"):
        get_space(_space_file(tmp_path, **{field: values}))


def test_space_within_bounds_loads_and_counts(tmp_path):
    space = get_space(_space_file(tmp_path, d_choices=[1, 8], resolutions=[8, 1024]))
    assert space.max_depth == 8 and space.count_subnets() > 0 and space.stage_channels == [16, 24, 32]


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00binary", b"[1, 2", b"- a\n- b\n", b"id: [unclosed",
                                     b"when: 2020-13-45\n"])
def test_space_file_that_is_not_a_definition_is_a_config_error(tmp_path, content):
    path = tmp_path / "space.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="space.yaml"):
        get_space(path)


# ----- 5. e2e.csv ------------------------------------------------------------------------------------
def _with_e2e(tmp_path):
    return write_e2e(tmp_path / "lut")


def test_cut_off_e2e_csv_is_an_artifact_error_with_the_fix(tmp_path):
    from latency.e2e import load_e2e

    lut = _with_e2e(tmp_path)
    assert len(load_e2e(lut)) == 6
    path = lut / "e2e.csv"
    text = path.read_text()
    path.write_text(text[: text.rindex('"space"') + 12])  # cut inside the last row's quoted config
    with pytest.raises(ArtifactError, match="e2e.csv.*delete"):
        load_e2e(lut)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(_good_cfg()))
    result = _cli("lut", "predict", str(lut), "--subnet", str(cfg))
    assert result.exit_code == ArtifactError.exit_code and "e2e.csv" in result.output


@pytest.mark.parametrize("damage", ["fields", "garbage", "negative"])
def test_incomplete_or_corrupt_e2e_rows_are_refused(tmp_path, damage):
    from latency.e2e import load_e2e

    lut = _with_e2e(tmp_path)
    path = lut / "e2e.csv"
    lines = path.read_text().splitlines()
    if damage == "fields":  # the last line lost its trailing fields
        lines[-1] = lines[-1][: lines[-1].index(",calibration,") + len(",calibration,")]
    elif damage == "garbage":
        lines.append('"x,"y"z\x00,,,')
    else:
        frame = pd.read_csv(path)
        frame.loc[2, "mean_ms"] = -5.0
        lines = frame.to_csv(index=False).splitlines()
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ArtifactError, match="e2e.csv"):
        load_e2e(lut)


# ----- 6. latency table values and completeness -------------------------------------------------------
def _edit_block(lut, column: str, value) -> str:
    frame = pd.read_csv(lut / "lut.csv")
    frame.loc[5, column] = value
    frame.to_csv(lut / "lut.csv", index=False)
    return frame.loc[5, "key"]


@pytest.mark.parametrize("value", [-5.0, math.nan, math.inf, 1e9, 0.0])
def test_edited_block_latency_is_refused_naming_block_and_file(tmp_path, value):
    lut = tmp_path / "lut"
    write_lut(lut)
    key = _edit_block(lut, "mean_ms", value)
    with pytest.raises(ArtifactError) as info:
        LatencyTable.load(lut)
    assert key in str(info.value) and "lut.csv" in str(info.value) and "mean_ms" in str(info.value)
    result = _cli("lut", "show", str(lut))
    assert result.exit_code == ArtifactError.exit_code and key in result.output


def test_unused_statistic_may_be_missing_but_not_negative(tmp_path):
    lut = tmp_path / "lut"
    write_lut(lut)
    _edit_block(lut, "p99_ms", math.nan)  # not reported by a runner: fine
    assert LatencyTable.load(lut).frame["p99_ms"].isna().sum() == 1
    _edit_block(lut, "p99_ms", -1.0)
    with pytest.raises(ArtifactError, match="p99_ms"):
        LatencyTable.load(lut)


def test_block_sum_never_predicts_negative_latency_from_a_loaded_table(tmp_path):
    from latency.api import load_predictor

    lut = tmp_path / "lut"
    write_lut(lut)
    configs = [SubnetConfig.sample(TINY, i).with_resolution(16) for i in range(20)]
    assert (load_predictor(lut, "block_sum").predict(configs).mean_ms > 0).all()
    frame = pd.read_csv(lut / "lut.csv")
    frame["mean_ms"] = -frame["mean_ms"]
    frame.to_csv(lut / "lut.csv", index=False)
    with pytest.raises(ArtifactError):
        load_predictor(lut, "block_sum")


def test_completeness_comes_from_the_rows_not_the_manifest(tmp_path):
    lut = tmp_path / "lut"
    write_lut(lut)
    assert LatencyTable.load(lut).manifest["complete"] is True
    frame = pd.read_csv(lut / "lut.csv")
    frame.drop(index=[3, 7]).to_csv(lut / "lut.csv", index=False)
    assert json.loads((lut / "manifest.json").read_text())["complete"] is True  # what the file claims
    table = LatencyTable.load(lut)
    assert table.manifest["complete"] is False and len(table.missing_blocks()) == 2
    shown = _cli("lut", "show", str(lut), "--json")
    assert shown.exit_code == 0 and json.loads(shown.stdout)["summary"]["complete"] is False


def test_cut_off_lut_csv_is_an_artifact_error(tmp_path):
    lut = tmp_path / "lut"
    write_lut(lut)
    text = (lut / "lut.csv").read_text()
    (lut / "lut.csv").write_text(text[: len(text) // 2])
    with pytest.raises(ArtifactError, match="lut.csv"):
        LatencyTable.load(lut)


def test_a_table_saved_before_its_first_block_still_loads(tmp_path):
    from latency.stats import STEADY

    lut = tmp_path / "lut"
    table = write_lut(lut)
    table.frame = table.frame.iloc[:0]
    table.manifest["stat"] = STEADY  # an anchored build interrupted before its first chunk
    table.save()
    loaded = LatencyTable.load(lut)
    assert loaded.frame.empty and loaded.manifest["complete"] is False
