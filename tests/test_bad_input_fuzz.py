"""Property: the sub-network and space file parsers either parse or raise an :class:`OFAError`, whatever the
file holds (random bytes, a valid file cut short, any JSON value, a valid file with one field replaced).
Fixed seed (derandomize) so a failure reproduces."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import TINY
from ofa.errors import OFAError
from ofa.spaces import SearchSpace, get_space
from ofa.subnet import SubnetConfig

SETTINGS = settings(derandomize=True, max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=12)
#: values that broke parsers before: non-finite and huge numbers, zero, non-integers, look-alikes
edge_values = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, 10**400, 2**63, 0, -1, 16.5, True, "16", None])
field_values = edge_values | st.lists(edge_values | st.integers(-2, 9), max_size=16) | json_values
GOOD_SUBNET = SubnetConfig.smallest(TINY, r=16).to_dict()
GOOD_SPACE = get_space(TINY).model_dump(mode="json") | {"id": "fuzzed"}


def _parses_or_ofa_error(parse) -> None:
    try:
        parse()
    except OFAError:
        pass  # any other exception fails the test with its traceback


def _subnet_file(directory: Path, content: bytes, suffix: str = ".json") -> None:
    path = directory / f"cfg{suffix}"
    path.write_bytes(content)
    _parses_or_ofa_error(lambda: SubnetConfig.load(path))


def _space_file(directory: Path, content: bytes, suffix: str = ".json") -> None:
    path = directory / f"space{suffix}"
    path.write_bytes(content)
    _parses_or_ofa_error(lambda: get_space(path))


# ----- sub-network configs ---------------------------------------------------------------------------
@SETTINGS
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".json", ".yaml"]))
def test_subnet_random_bytes(tmp_path, content, suffix):
    _subnet_file(tmp_path, content, suffix)


@SETTINGS
@given(cut=st.integers(0, len(json.dumps(GOOD_SUBNET))))
def test_subnet_truncated_valid_file(tmp_path, cut):
    _subnet_file(tmp_path, json.dumps(GOOD_SUBNET).encode()[:cut])


@SETTINGS
@given(value=json_values)
def test_subnet_any_json_value(tmp_path, value):
    _subnet_file(tmp_path, json.dumps(value).encode())


@SETTINGS
@given(key=st.sampled_from(sorted(GOOD_SUBNET) + ["resolution", "subnet"]), value=field_values)
def test_subnet_valid_file_with_one_field_replaced(tmp_path, key, value):
    _subnet_file(tmp_path, json.dumps(GOOD_SUBNET | {key: value}).encode())
    _parses_or_ofa_error(lambda: SubnetConfig.from_dict(GOOD_SUBNET | {key: value}))


# ----- search space files ------------------------------------------------------------------------------
@SETTINGS
@given(content=st.binary(max_size=300), suffix=st.sampled_from([".json", ".yaml", ".yml"]))
def test_space_random_bytes(tmp_path, content, suffix):
    _space_file(tmp_path, content, suffix)


@SETTINGS
@given(cut=st.integers(0, len(json.dumps(GOOD_SPACE))))
def test_space_truncated_valid_file(tmp_path, cut):
    _space_file(tmp_path, json.dumps(GOOD_SPACE).encode()[:cut])


@SETTINGS
@given(value=json_values)
def test_space_any_json_value(tmp_path, value):
    _space_file(tmp_path, json.dumps(value).encode())
    _parses_or_ofa_error(lambda: SearchSpace.from_dict(value))


@SETTINGS
@given(key=st.sampled_from(sorted(GOOD_SPACE)), value=field_values)
def test_space_valid_file_with_one_field_replaced(tmp_path, key, value):
    data = GOOD_SPACE | {key: value}
    _space_file(tmp_path, json.dumps(data).encode())
    _parses_or_ofa_error(lambda: get_space(data).summary())  # derived quantities too (channel rounding, counts)


@pytest.mark.parametrize("cut", [None, 40])
def test_the_unfuzzed_files_parse(tmp_path, cut):  # the strategies start from files that are valid
    (tmp_path / "cfg.json").write_text(json.dumps(GOOD_SUBNET))
    assert SubnetConfig.load(tmp_path / "cfg.json").to_dict() == GOOD_SUBNET
    (tmp_path / "space.json").write_text(json.dumps(GOOD_SPACE)[:cut])
    if cut is None:
        assert get_space(tmp_path / "space.json").id == "fuzzed"
    else:
        with pytest.raises(OFAError, match="space.json"):
            get_space(tmp_path / "space.json")
