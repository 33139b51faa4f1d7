"""A schedule stage's choice (``"all"``, ``"max"``, ``"min"`` or a list) expanded to explicit values of a space."""

from __future__ import annotations

from typing import Any

from ofa.errors import ConfigError


def expand_choice(stage: str, dim: str, value: Any, allowed: list, space_id: str) -> list:
    if value == "all":
        return list(allowed)
    if value == "max":
        return [max(allowed)]
    if value == "min":
        return [min(allowed)]
    chosen = sorted(set(value))
    bad = [v for v in chosen if v not in allowed]
    if not chosen or bad:
        raise ConfigError(f"schedule stage {stage!r}: {dim}={value} has value(s) {bad or '(empty list)'} outside "
                          f"space {space_id}; valid {dim} choices: {allowed} (or 'all', 'max', 'min')")
    return chosen
