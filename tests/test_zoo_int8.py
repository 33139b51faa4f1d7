"""Int8 entries keep the zoo's int8_max_drop promise: the next measured candidates are built in turn, the best
int8 top-1 within the drop is kept, and an entry still over it says int8_mismatch."""

from __future__ import annotations

from pathlib import Path

import pytest

from ofa.zoo.quant import entry_status, keep_int8_within_drop


def _card(arch: str, top1: float, top1_int8: float) -> dict:
    return {"arch": arch, "accuracy": {"top1": top1, "int8": {"top1": top1_int8, "accuracy_drop": top1 - top1_int8,
                                                               "failures": []}}}


def _builder(card: dict, calls: list):
    def build(folder: Path) -> dict:
        calls.append(card["arch"])
        (folder / "marker").write_text(card["arch"])
        return card
    return build


def _first(tmp_path: Path, card: dict) -> Path:
    tmp = tmp_path / ".tmp-entry-r0"
    tmp.mkdir()
    (tmp / "marker").write_text(card["arch"])
    return tmp


def test_candidates_are_built_until_one_keeps_the_drop_and_the_best_within_it_is_kept(tmp_path):
    first = _card("a", 0.98, 0.96)  # 2 points
    others = [_card("b", 0.975, 0.962), _card("c", 0.97, 0.965), _card("d", 0.99, 0.99)]
    calls: list = []
    tmp = _first(tmp_path, first)
    kept = keep_int8_within_drop(first, tmp, (_builder(c, calls) for c in others), max_drop=0.01, tries=4)
    assert calls == ["b", "c"]  # c is within 1 point: d is never built
    assert kept["arch"] == "c" and (tmp / "marker").read_text() == "c"
    assert [t["arch"] for t in kept["accuracy"]["int8_tries"]["tries"]] == ["a", "b", "c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-entry-r0"]  # the other tries' folders are gone
    assert entry_status("ok", "", kept, 0.01) == ("ok", "")


def test_a_first_candidate_within_the_drop_builds_nothing_more(tmp_path):
    first = _card("a", 0.98, 0.975)
    calls: list = []
    kept = keep_int8_within_drop(first, _first(tmp_path, first), [_builder(_card("b", 0.9, 0.9), calls)], 0.01, 3)
    assert calls == [] and kept is first and len(kept["accuracy"]["int8_tries"]["tries"]) == 1


def test_none_within_the_drop_keeps_the_best_int8_top1_and_the_entry_says_int8_mismatch(tmp_path):
    first = _card("a", 0.98, 0.95)
    others = [_card("b", 0.975, 0.96), _card("c", 0.97, 0.955), _card("d", 0.99, 0.99)]
    calls: list = []
    tmp = _first(tmp_path, first)
    kept = keep_int8_within_drop(first, tmp, (_builder(c, calls) for c in others), max_drop=0.01, tries=3)
    assert calls == ["b", "c"] and kept["arch"] == "b" and (tmp / "marker").read_text() == "b"
    status, reason = entry_status("ok", "", kept, 0.01)
    assert status == "int8_mismatch" and "1.50 points > int8_max_drop 1" in reason
    assert entry_status("over_budget", "slow", kept, 0.01)[0] == "over_budget"


@pytest.mark.parametrize("field, value", [("int8_max_drop", -0.1), ("int8_max_drop", 2), ("int8_tries", 0)])
def test_int8_settings_are_validated(field, value):
    from ofa.errors import ConfigError
    from ofa.zoo.config import load_zoo_config

    with pytest.raises(ConfigError, match=field):
        load_zoo_config(overrides={field: value})
