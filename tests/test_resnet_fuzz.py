"""Property: the OFA-ResNet sub-network config and space parsers either parse or raise an :class:`OFAError`,
whatever the JSON holds; a config that parses holds exactly the space's choices (nothing silently rounded).
Fixed seed (derandomize) so a failure reproduces."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ofa.errors import OFAError
from ofa.resnet_artifacts import read_resnet_config, resnet_space
from ofa.spaces.resnet import OFA_RESNET50, ResNetConfig
from test_bad_input_fuzz import field_values, json_values

SETTINGS = settings(derandomize=True, max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
GOOD = ResNetConfig.smallest(OFA_RESNET50).to_dict()


def _config_parses_or_ofa_error(data) -> None:
    try:
        cfg = read_resnet_config(data, OFA_RESNET50) if isinstance(data, dict) else ResNetConfig.from_dict(data, OFA_RESNET50)
    except OFAError:
        return
    assert set(cfg.d) <= set(OFA_RESNET50.d_choices) and set(cfg.e) <= set(OFA_RESNET50.e_choices)
    assert set(cfg.w) <= {0, 1, 2} and cfg.r in OFA_RESNET50.resolutions


@SETTINGS
@given(value=json_values)
def test_resnet_config_any_json_value(value):
    _config_parses_or_ofa_error(value)


@SETTINGS
@given(key=st.sampled_from(sorted(GOOD) + ["ks"]), value=field_values)
def test_resnet_config_with_one_field_replaced(key, value):
    _config_parses_or_ofa_error(GOOD | {key: value})


@SETTINGS
@given(key=st.sampled_from(sorted(OFA_RESNET50.model_dump()) + ["nope"]), value=field_values)
def test_resnet_space_file_with_one_field_replaced(tmp_path, key, value):
    path = tmp_path / "space.json"
    path.write_text(json.dumps(OFA_RESNET50.model_dump(mode="json") | {key: value}))
    try:
        resnet_space(path)
    except OFAError:
        pass


def test_a_fractional_depth_or_width_index_is_refused_not_rounded():
    for key, value in (("d", [1.5] * 5), ("w", [0.9] * 6), ("r", 128.5), ("e", ["0.2"] * 18)):
        try:
            ResNetConfig.from_dict(GOOD | {key: value}, OFA_RESNET50)
        except OFAError as exc:
            assert f"'{key}'" in str(exc)
        else:
            raise AssertionError(f"{key}={value!r} was accepted")
