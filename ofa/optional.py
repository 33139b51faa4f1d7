"""Optional runtimes (extras): import one, or fail with the error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from ofa.errors import ExportError


def require(module: str, what: str, extra: str, error: type = ExportError) -> ModuleType:
    """``module`` imported, or ``error`` saying ``what`` needs it and the ``pip install`` that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise error(f"{what} needs {module.split('.')[0]}: pip install 'ofa-deploy[{extra}]'") from None
