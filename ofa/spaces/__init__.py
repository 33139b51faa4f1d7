"""Search spaces: definition (:mod:`ofa.spaces.space`), built-ins and the registry."""

from __future__ import annotations

from pathlib import Path

from ofa.errors import ConfigError
from ofa.registry import Registry
from ofa.spaces.builtin import BUILTIN_SPACES
from ofa.spaces.space import SearchSpace, make_divisible

SPACES: Registry[SearchSpace] = Registry("search space")
for _space in BUILTIN_SPACES:
    SPACES.register(_space.id, _space)


def get_space(space: "str | SearchSpace | dict | Path") -> SearchSpace:
    """Resolve a space from its id, a definition dict, a JSON/YAML file, or pass one through."""
    if isinstance(space, SearchSpace):
        return space
    if isinstance(space, dict):
        return SearchSpace.from_dict(space)
    text = str(space)
    if text in SPACES:
        return SPACES.get(text)
    path = Path(text)
    if path.suffix in {".json", ".yaml", ".yml"}:
        return SearchSpace.from_dict(read_space_file(path), source=str(path))
    return SPACES.get(text)  # raises, listing the known ids


def read_space_file(path: Path):
    """The parsed content of a JSON/YAML space file (YAML reads JSON too); :class:`ConfigError` naming it otherwise."""
    from ofa.io import read_yaml_file

    fix = "start from `ofa space show ID --json` of a built-in space and edit it"
    data = read_yaml_file(path, "search space file", fix=fix, mapping=False)
    if data is None:
        raise ConfigError(f"search space file {path} is empty; {fix}")
    return data


def list_spaces() -> list[SearchSpace]:
    return [SPACES.get(name) for name in SPACES.names()]


__all__ = ["SearchSpace", "make_divisible", "SPACES", "get_space", "list_spaces"]
