"""Atomic file writes and hashing: nothing on disk is ever half-written."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

_UMASK = os.umask(0o022)  # read once at import (os.umask can only be read by setting it)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would give a new file: mkstemp's own 0600 would hide results from others


def atomic_write(path: "str | Path", write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path`` (same directory, fsynced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temp name keeps the extension: torch.export warns about an archive not ending in .pt2
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: "str | Path", data: bytes) -> Path:
    return atomic_write(path, lambda p: p.write_bytes(data))


def atomic_write_text(path: "str | Path", text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text))


def atomic_write_json(path: "str | Path", obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def sha256_file(path: "str | Path", chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def torch_load_reason(exc: BaseException) -> str:
    """One line saying why ``torch.load(..., weights_only=True)`` refused a file.

    torch's own message for a pickle with other objects advises re-running with ``weights_only=False``:
    wrong advice for a file of unknown origin (that would run code from it), so it is never passed on.
    """
    text = str(exc).strip()
    if not text or isinstance(exc, EOFError):
        return "the file is empty or cut off"
    if "weights only load failed" in text.lower():
        lines = [line for line in text.splitlines() if "WeightsUnpickler error" in line]
        detail = lines[0].split(":", 1)[1].strip() if lines else ""
        detail = detail.split(". Please")[0].rstrip(".")
        return "it holds pickled Python objects, not only tensors" + (f" ({detail})" if detail else "")
    if isinstance(exc, (KeyError, IndexError, ValueError)) and len(text) < 40:  # bytes the unpickler cannot parse
        return f"not a PyTorch file ({type(exc).__name__} {text} while unpickling)"
    first = next(line.strip() for line in text.splitlines() if line.strip()).split(". ")[0].rstrip(".")
    return first if "weights_only" not in first else f"{type(exc).__name__} while reading tensors"


def yaml_error_reason(exc: BaseException) -> str:
    """A YAML parse error in one line: the problem and where (``expected ',' or ']' ... at line 2, column 6``)."""
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)


# ----- reading user files -----------------------------------------------------------------------------
def read_text_file(path: "str | Path", what: str, error: type = None, fix: str = "") -> str:
    """The UTF-8 text of ``path``; ``error`` (default :class:`ConfigError`) naming ``what`` and the file otherwise."""
    from ofa.errors import ConfigError

    error = error or ConfigError
    path, hint = Path(path), f"; {fix}" if fix else ""
    if not path.is_file():
        raise error(f"{what} {path} does not exist{hint}")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{what} {path} is binary, not UTF-8 text{hint}") from None
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}{hint}") from None


def read_json_file(path: "str | Path", what: str, error: type = None, fix: str = "", mapping: bool = True) -> Any:
    """Parsed JSON of ``path`` (a dict when ``mapping``); one typed error naming the file for any problem."""
    from ofa.errors import ConfigError

    error, hint = error or ConfigError, f"; {fix}" if fix else ""
    text = read_text_file(path, what, error, fix)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{what} {path} is not valid JSON ({exc}){hint}") from None
    except RecursionError:
        raise error(f"{what} {path} is nested too deeply{hint}") from None
    if mapping and not isinstance(data, dict):
        raise error(f"{what} {path} must hold a JSON object, got {type(data).__name__}{hint}")
    return data


def read_yaml_file(path: "str | Path", what: str, error: type = None, fix: str = "", mapping: bool = True) -> Any:
    """``yaml.safe_load`` of ``path`` (a dict when ``mapping``; an empty file is ``{}``); typed errors otherwise."""
    import yaml

    from ofa.errors import ConfigError

    error, hint = error or ConfigError, f"; {fix}" if fix else ""
    text = read_text_file(path, what, error, fix)
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a malformed scalar such as the date 2020-13-45
        raise error(f"{what} {path} is not valid YAML ({yaml_error_reason(exc)}){hint}") from None
    except RecursionError:
        raise error(f"{what} {path} is nested too deeply{hint}") from None
    if mapping:
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise error(f"{what} {path} must hold a mapping of settings, got {type(data).__name__}{hint}")
    return data
