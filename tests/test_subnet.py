import random

import pytest

from conftest import IN32, MBV3, TINY
from ofa import ConfigError, SubnetConfig, get_space


def test_json_round_trip():
    space = get_space(MBV3)
    cfg = SubnetConfig.sample(space, 3)
    assert SubnetConfig.from_json(cfg.to_json()) == cfg
    assert SubnetConfig.from_dict(cfg.to_dict(), space) == cfg


def test_file_round_trip(tmp_path):
    cfg = SubnetConfig.sample(IN32, 1)
    cfg.save(tmp_path / "c.json")
    assert SubnetConfig.load(tmp_path / "c.json") == cfg


def test_sampling_is_seeded_and_respects_limits():
    space = get_space(MBV3)
    assert SubnetConfig.sample(space, 7) == SubnetConfig.sample(space, 7)
    assert SubnetConfig.sample(space, 7) != SubnetConfig.sample(space, 8)
    rng = random.Random(0)
    for _ in range(50):
        cfg = SubnetConfig.sample(space, rng, ks=(5, 7), d=(4,), r=(160,))
        assert set(cfg.ks) <= {5, 7} and set(cfg.d) == {4} and cfg.r == 160


def test_largest_and_smallest():
    space = get_space(TINY)
    big, small = SubnetConfig.largest(space), SubnetConfig.smallest(space)
    assert set(big.ks) == {5} and set(big.e) == {4} and set(big.d) == {2} and big.r == 32
    assert set(small.ks) == {3} and set(small.e) == {3} and set(small.d) == {1} and small.r == 16


def _bad(**change):
    data = SubnetConfig.largest(MBV3).to_dict() | change
    with pytest.raises(ConfigError) as err:
        SubnetConfig.from_dict(data)
    return str(err.value)


def test_wrong_length_names_expected_length():
    assert "needs 20" in _bad(ks=[7] * 19)
    assert "needs 5" in _bad(d=[4] * 4)


def test_value_outside_space_names_valid_choices():
    assert "[3, 5, 7]" in _bad(ks=[9] + [7] * 19)
    assert "[3, 4, 6]" in _bad(e=[5] * 20)
    assert "[2, 3, 4]" in _bad(d=[1, 2, 3, 4, 4])
    assert "224" in _bad(r=100)


def test_unknown_key_and_missing_space():
    assert "unknown" in _bad(width=[1])
    data = SubnetConfig.largest(MBV3).to_dict()
    del data["space"]
    with pytest.raises(ConfigError, match="does not name its space"):
        SubnetConfig.from_dict(data)


def test_non_integer_values_rejected():
    assert "integers" in _bad(r="224")
    assert "list of integers" in _bad(ks=7)


def test_ofa_resolution_spelling_accepted():
    data = SubnetConfig.largest(MBV3).to_dict()
    data["resolution"] = data.pop("r")
    assert SubnetConfig.from_dict(data).r == 224


def test_the_official_tools_net_config_form_is_accepted():
    """OFA's finder and datasets write {"wid": None, ..., "r": [224]}; a set width or two resolutions are refused."""
    data = SubnetConfig.largest(MBV3).to_dict()
    official = {"wid": None, "ks": data["ks"], "e": data["e"], "d": data["d"], "r": [data["r"]]}
    assert SubnetConfig.from_dict(official, MBV3) == SubnetConfig.largest(MBV3)
    with pytest.raises(ConfigError, match="unknown sub-network config key"):
        SubnetConfig.from_dict(official | {"wid": 1.2}, MBV3)
    with pytest.raises(ConfigError, match="'r' must hold integers"):
        SubnetConfig.from_dict(official | {"r": [224, 160]}, MBV3)


def test_canonical_ignores_unused_slots():
    space = get_space(MBV3)
    a = SubnetConfig.sample(space, 0, d=(2,))
    b = SubnetConfig(a.space, a.ks[:2] + tuple(3 if k != 3 else 5 for k in a.ks[2:4]) + a.ks[4:], a.e, a.d, a.r)
    assert a != b and a.canonical(space) == b.canonical(space)
