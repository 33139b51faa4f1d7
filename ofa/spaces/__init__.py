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
    import yaml

    from ofa.io import yaml_error_reason

    if not path.is_file():
        raise ConfigError(f"search space file {path} does not exist")
    fix = "start from `ofa space show ID --json` of a built-in space and edit it"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"search space file {path} is binary, not UTF-8 text; {fix}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read search space file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a malformed scalar (e.g. date 2020-13-45)
        reason = yaml_error_reason(exc)
        raise ConfigError(f"search space file {path} is not valid JSON/YAML ({reason}); {fix}") from None
    except RecursionError:
        raise ConfigError(f"search space file {path} is nested too deeply to be a space definition; {fix}") from None
    if data is None:
        raise ConfigError(f"search space file {path} is empty; {fix}")
    return data


def list_spaces() -> list[SearchSpace]:
    return [SPACES.get(name) for name in SPACES.names()]


__all__ = ["SearchSpace", "make_divisible", "SPACES", "get_space", "list_spaces"]
