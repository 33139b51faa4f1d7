"""Names and cache keys shared by the zoo's stages: file-system-safe names and short input hashes."""

from __future__ import annotations

from pathlib import Path

from ofa.io import sha256_file, sha256_json


def safe_name(name: str) -> str:
    """``name`` with every character other than letters, digits and ``-_.`` replaced by ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def inputs_hash(*parts) -> str:
    return sha256_json([str(p) for p in parts])[:16]


def file_hash(path: Path) -> str:
    return sha256_file(path)[:16] if path.is_file() else "missing"
