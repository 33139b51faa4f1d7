"""One conversion from pydantic's ValidationError to the user-facing :class:`ConfigError`.

Every problem is listed as ``dotted.location: message``, so a config with three mistakes says all three.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

from pydantic import BaseModel, ValidationError

from ofa.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def dotted(loc: tuple) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def validate_model(model: type[Model], data: Any, what: str,
                   location: Optional[Callable[[tuple], str]] = None) -> Model:
    """``model.model_validate(data)``; a failure is a ConfigError "{what}: loc: msg; loc: msg"."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        name = location or dotted
        problems = "; ".join(f"{name(err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{what}: {problems}") from None
