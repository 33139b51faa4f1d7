"""Atomic file writes and hashing: nothing on disk is ever half-written."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: "str | Path", write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path`` (same directory, fsynced)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
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
