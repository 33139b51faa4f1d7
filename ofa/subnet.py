"""A sub-network as plain, validated data: ``{"space", "ks", "e", "d", "r"}``.

``ks`` and ``e`` have one entry per block *slot* (``max_depth`` slots per stage, as in OFA);
slots beyond a stage's active depth are carried but unused. ``d`` has one entry per stage and
``r`` is the input resolution. A config is validated against its space on construction through
:meth:`SubnetConfig.from_dict`; a wrong length, a value outside the space or an unknown key is a
:class:`~ofa.errors.ConfigError` naming the valid choices.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from ofa.errors import ConfigError
from ofa.spaces import SearchSpace, get_space

_KEYS = ("space", "ks", "e", "d", "r")


@dataclass(frozen=True)
class SubnetConfig:
    space: str
    ks: tuple[int, ...]
    e: tuple[int, ...]
    d: tuple[int, ...]
    r: int

    # ----- construction & validation -----------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict, space: "SearchSpace | str | None" = None) -> "SubnetConfig":
        """Build and validate a config. ``space`` defaults to the one named in ``data``."""
        if not isinstance(data, dict):
            raise ConfigError(f"a sub-network config must be a JSON object with keys {list(_KEYS)}, got {type(data).__name__}")
        data = _from_official_form(data)
        unknown = sorted(set(data) - set(_KEYS) - {"resolution"}, key=str)
        if unknown:
            raise ConfigError(f"unknown sub-network config key(s) {unknown}; valid keys: {list(_KEYS)}")
        if "resolution" in data:  # accept OFA's spelling
            if "r" in data:
                raise ConfigError("give the resolution once, as 'r' (not both 'r' and 'resolution')")
            data["r"] = data.pop("resolution")
        space_obj = _resolve_space(space if space is not None else data.get("space"))
        if "space" in data and data["space"] != space_obj.id:
            raise ConfigError(f"sub-network config is for space {data['space']!r} but space {space_obj.id!r} was given")
        missing = [k for k in ("ks", "e", "d", "r") if k not in data]
        if missing:
            raise ConfigError(f"sub-network config is missing key(s) {missing}; a config needs {list(_KEYS)}")
        cfg = cls(
            space=space_obj.id,
            ks=_int_tuple(data["ks"], "ks"),
            e=_int_tuple(data["e"], "e"),
            d=_int_tuple(data["d"], "d"),
            r=_int_value(data["r"], "r"),
        )
        cfg.validate(space_obj)
        return cfg

    def validate(self, space: SearchSpace) -> None:
        """Raise :class:`ConfigError` unless this config belongs to ``space``."""
        if self.space != space.id:
            raise ConfigError(f"sub-network config is for space {self.space!r}, not {space.id!r}")
        _check_list("ks", self.ks, space.n_block_slots, space.ks_choices, "one per block slot: stages x max depth")
        _check_list("e", self.e, space.n_block_slots, space.e_choices, "one per block slot: stages x max depth")
        _check_list("d", self.d, space.n_stages, space.d_choices, "one per stage")
        if self.r not in space.resolutions:
            raise ConfigError(f"resolution r={self.r} is not in space {space.id}; valid: {list(space.resolutions)}")

    # ----- sampling ---------------------------------------------------------------------------
    @classmethod
    def sample(cls, space: "SearchSpace | str", rng: "random.Random | int | None" = None, **limits) -> "SubnetConfig":
        """A uniformly random config; ``limits`` may narrow the choices (``ks=(3,5)``, ``d=(2,)``...)."""
        space = _resolve_space(space)
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        ks, e, d, r = _choices(space, limits)
        return cls(
            space=space.id,
            ks=tuple(rng.choice(ks) for _ in range(space.n_block_slots)),
            e=tuple(rng.choice(e) for _ in range(space.n_block_slots)),
            d=tuple(rng.choice(d) for _ in range(space.n_stages)),
            r=rng.choice(r),
        )

    @classmethod
    def largest(cls, space: "SearchSpace | str", r: int | None = None) -> "SubnetConfig":
        space = _resolve_space(space)
        return cls._uniform(space, max(space.ks_choices), max(space.e_choices), max(space.d_choices), r or max(space.resolutions))

    @classmethod
    def smallest(cls, space: "SearchSpace | str", r: int | None = None) -> "SubnetConfig":
        space = _resolve_space(space)
        return cls._uniform(space, min(space.ks_choices), min(space.e_choices), min(space.d_choices), r or min(space.resolutions))

    @classmethod
    def middle(cls, space: "SearchSpace | str", r: int | None = None) -> "SubnetConfig":
        """The middle kernel, expand ratio and depth everywhere, at the middle resolution by default."""
        space = _resolve_space(space)
        mid = lambda choices: sorted(choices)[len(choices) // 2]  # noqa: E731
        return cls._uniform(space, mid(space.ks_choices), mid(space.e_choices), mid(space.d_choices),
                            r or mid(space.resolutions))

    @classmethod
    def _uniform(cls, space: SearchSpace, k: int, e: int, d: int, r: int) -> "SubnetConfig":
        cfg = cls(space.id, (k,) * space.n_block_slots, (e,) * space.n_block_slots, (d,) * space.n_stages, r)
        cfg.validate(space)
        return cfg

    # ----- views & serialisation -----------------------------------------------------------------
    def active_slots(self, space: SearchSpace) -> list[int]:
        """Indices of the block slots that run (the first ``d[s]`` slots of each stage)."""
        return [s * space.max_depth + i for s, depth in enumerate(self.d) for i in range(space.effective_depth(s, depth))]

    def canonical(self, space: SearchSpace) -> "SubnetConfig":
        """Same architecture with unused slots set to the smallest choice (for de-duplication)."""
        active = set(self.active_slots(space))
        ks = tuple(k if i in active else min(space.ks_choices) for i, k in enumerate(self.ks))
        e = tuple(v if i in active else min(space.e_choices) for i, v in enumerate(self.e))
        d = tuple(_smallest_choice_for(space, s, space.effective_depth(s, depth)) for s, depth in enumerate(self.d))
        return SubnetConfig(self.space, ks, e, d, self.r)

    def with_resolution(self, r: int) -> "SubnetConfig":
        return SubnetConfig(self.space, self.ks, self.e, self.d, r)

    def to_dict(self) -> dict:
        return {"space": self.space, "ks": list(self.ks), "e": list(self.e), "d": list(self.d), "r": self.r}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str, space: "SearchSpace | str | None" = None) -> "SubnetConfig":
        if not isinstance(text, (str, bytes)):
            raise ConfigError(f"sub-network config must be JSON text, got {type(text).__name__} {text!r}")
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ConfigError(f"sub-network config is not valid JSON: {exc}") from None
        return cls.from_dict(data, space)

    @classmethod
    def load(cls, path: "str | Path", space: "SearchSpace | str | None" = None) -> "SubnetConfig":
        """Read a config from a JSON file (a search result with a ``subnet`` key works too)."""
        path = Path(path)
        data = _read_config_file(path)
        if isinstance(data, dict) and "subnet" in data and isinstance(data["subnet"], dict):
            data = data["subnet"]
        try:
            return cls.from_dict(data, space)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def save(self, path: "str | Path") -> None:
        from ofa.io import atomic_write_text

        atomic_write_text(path, self.to_json(indent=2) + "\n")

    def arch_string(self, space: SearchSpace) -> str:
        """Compact human-readable form: ``r160|k357.e346|...`` (one group per stage)."""
        groups = []
        for s in range(space.n_stages):
            slots = range(s * space.max_depth, s * space.max_depth + space.effective_depth(s, self.d[s]))
            groups.append("".join(f"{self.ks[i]}" for i in slots) + "." + "".join(f"{self.e[i]}" for i in slots))
        return f"r{self.r}|" + "|".join(groups)

    @classmethod
    def from_arch_string(cls, text: str, space: "SearchSpace | str") -> "SubnetConfig":
        """The config of an :meth:`arch_string` (``r160|35.46|...``); unused slots get the smallest choices.

        Every token is checked: a missing or extra stage, a kernel/expand digit outside the space, or
        kernels and expands of different lengths is a :class:`ConfigError` naming the valid form.
        """
        space = _resolve_space(space)
        form = (f"expected 'r<resolution>|' then {space.n_stages} groups '<kernels>.<expands>', one digit per "
                f"active block (e.g. {cls.smallest(space).arch_string(space)!r})")
        parts = str(text).strip().split("|")
        if len(parts) != space.n_stages + 1 or not parts[0].startswith("r") or not parts[0][1:].isdigit():
            raise ConfigError(f"arch string {text!r} does not fit space {space.id}: {form}")
        ks, es = [min(space.ks_choices)] * space.n_block_slots, [min(space.e_choices)] * space.n_block_slots
        depths = []
        for s, group in enumerate(parts[1:]):
            k_text, dot, e_text = group.partition(".")
            if not dot or len(k_text) != len(e_text) or not (k_text + e_text).isdigit():
                raise ConfigError(f"arch string {text!r}: stage {s + 1} group {group!r} is malformed; {form}")
            depths.append(_smallest_choice_for(space, s, len(k_text)) if s < space.n_stages else len(k_text))
            for i, (k, e) in enumerate(zip(k_text, e_text)):
                if i < space.max_depth:
                    ks[s * space.max_depth + i], es[s * space.max_depth + i] = int(k), int(e)
        return cls.from_dict({"space": space.id, "ks": ks, "e": es, "d": depths, "r": int(parts[0][1:])}, space)


# ----- helpers ------------------------------------------------------------------------------
def _smallest_choice_for(space: SearchSpace, stage: int, blocks: int) -> int:
    """The smallest ``d`` choice under which ``stage`` runs ``blocks`` blocks (``blocks`` itself if none does)."""
    return next((d for d in space.d_choices if space.effective_depth(stage, d) == blocks), blocks)


def _from_official_form(data: dict) -> dict:
    """A copy of ``data`` in our form, also accepting the official OFA tools' net configs, e.g.
    ``{"wid": None, "ks": [...], "e": [...], "d": [...], "r": [224]}``: the resolution as a one-element list and
    ``wid`` unset (MobileNetV3 and ProxylessNAS have no width choice). Anything else is left to validation."""
    data = dict(data)
    if "wid" in data and data["wid"] is None:
        del data["wid"]
    r = data.get("r")
    if isinstance(r, list) and len(r) == 1:
        data["r"] = r[0]
    return data


def _resolve_space(space) -> SearchSpace:
    if space is None:
        raise ConfigError("sub-network config does not name its space; add \"space\": \"<space id>\" (see `ofa space list`)")
    return get_space(space)


def _int_tuple(values, name: str) -> tuple[int, ...]:
    if not isinstance(values, (list, tuple)):
        raise ConfigError(f"'{name}' must be a list of integers, got {values!r}")
    return tuple(_int_value(v, name) for v in values)


def _int_value(value, name: str) -> int:
    """An integer, or a float with an integral, finite value (JSON writes ``160.0`` sometimes)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"'{name}' must hold integers, got {value!r}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise ConfigError(f"'{name}' must hold finite integers, got {value!r}")
    return int(value)


def _check_list(name: str, values: Sequence[int], length: int, choices: Iterable[int], what: str) -> None:
    choices = list(choices)
    if len(values) != length:
        raise ConfigError(f"'{name}' has {len(values)} entries but the space needs {length} ({what})")
    bad = sorted({v for v in values if v not in choices})
    if bad:
        raise ConfigError(f"'{name}' has value(s) {bad} outside the space; valid choices: {choices}")


def _choices(space: SearchSpace, limits: dict) -> tuple[list[int], list[int], list[int], list[int]]:
    unknown = sorted(set(limits) - {"ks", "e", "d", "r"})
    if unknown:
        raise ConfigError(f"unknown sampling limit(s) {unknown}; valid: ks, e, d, r")
    out = []
    for key, allowed in (("ks", space.ks_choices), ("e", space.e_choices), ("d", space.d_choices), ("r", space.resolutions)):
        chosen = list(limits.get(key) or allowed)
        bad = sorted(set(chosen) - set(allowed))
        if bad:
            raise ConfigError(f"sampling limit {key}={chosen} has value(s) {bad} outside the space; valid: {list(allowed)}")
        out.append(sorted(chosen))
    return tuple(out)  # type: ignore[return-value]


def _read_config_file(path: Path):
    """The parsed JSON (or ``.yaml``) of a sub-network config file; a :class:`ConfigError` naming it otherwise."""
    from ofa.io import read_json_file, read_text_file, read_yaml_file

    fix = ('write it as JSON like {"space": ..., "ks": [...], "e": [...], "d": [...], "r": 160} '
           "(e.g. from `ofa search --out`)")
    what = "sub-network config file"
    if not read_text_file(path, what, fix=fix).strip():
        raise ConfigError(f"{what} {path} is empty; {fix}")
    read = read_yaml_file if path.suffix in (".yaml", ".yml") else read_json_file
    return read(path, what, fix=fix, mapping=False)
