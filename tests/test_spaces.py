import pytest

from conftest import IN32, MBV3, TINY
from ofa import ConfigError, get_space, list_spaces
from ofa.registry import Registry
from ofa.spaces import SearchSpace, make_divisible


def test_official_space_matches_ofa_mobilenetv3():
    space = get_space(MBV3)
    assert space.stem_channels == 16 and space.first_block_channels == 16
    assert space.stage_channels == [24, 40, 80, 112, 160]
    assert [s.stride for s in space.stages] == [2, 2, 2, 1, 2]
    assert [s.se for s in space.stages] == [False, True, False, True, True]
    assert [s.act for s in space.stages] == ["relu", "relu", "h_swish", "h_swish", "h_swish"]
    assert (space.final_expand_channels, space.feature_mix_channels) == (960, 1280)
    assert space.resolutions == tuple(range(128, 225, 4))
    assert space.n_block_slots == 20


def test_width_1_2_rounds_like_ofa():
    # OFA's Note10 latency table is for w1.2: stem 24, stages 32/48/96/136/192, head 1152/1536.
    space = get_space("ofa_mbv3_d234_e346_k357_w1.2")
    assert space.stem_channels == 24
    assert space.stage_channels == [32, 48, 96, 136, 192]
    assert (space.final_expand_channels, space.feature_mix_channels) == (1152, 1536)
    assert space.mid_channels(136, 3) == 408  # "expand:408" in the Note10 table


@pytest.mark.parametrize("value,expected", [(19.2, 24), (16, 16), (134.4, 136), (72, 72), (10, 16), (4, 8)])
def test_make_divisible(value, expected):
    assert make_divisible(value, 8) == expected


def test_every_builtin_space_is_listed_and_round_trips():
    ids = {s.id for s in list_spaces()}
    assert {MBV3, IN32, TINY} <= ids
    for space in list_spaces():
        assert SearchSpace.from_dict(space.model_dump(mode="json")) == space


def test_unknown_space_lists_known_ids():
    with pytest.raises(ConfigError, match=MBV3):
        get_space("ofa_resnet_nope")


def test_invalid_space_definition_names_every_field():
    data = get_space(TINY).model_dump(mode="json") | {"ks_choices": [3, 4], "bogus": 1}
    with pytest.raises(ConfigError) as err:
        SearchSpace.from_dict(data)
    assert "ks_choices" in str(err.value) and "bogus" in str(err.value)


def test_space_from_yaml_file(tmp_path):
    import yaml

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(get_space(TINY).model_dump(mode="json") | {"id": "mine"}))
    assert get_space(path).id == "mine"


def test_registry_rejects_duplicates():
    reg: Registry[int] = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("a", 2)
    with pytest.raises(ConfigError, match="known: a"):
        reg.get("b")
