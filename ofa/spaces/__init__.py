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
        if not path.is_file():
            raise ConfigError(f"search space file {path} does not exist")
        import yaml

        return SearchSpace.from_dict(yaml.safe_load(path.read_text()))
    return SPACES.get(text)  # raises, listing the known ids


def list_spaces() -> list[SearchSpace]:
    return [SPACES.get(name) for name in SPACES.names()]


__all__ = ["SearchSpace", "make_divisible", "SPACES", "get_space", "list_spaces"]
