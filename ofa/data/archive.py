"""Dataset archives (``.tar``, ``.tar.gz``) unpacked once into a cache (``$OFA_CACHE``, default
``~/.cache/ofa-deploy``), keyed by the archive's content hash."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from ofa.errors import DataError
from ofa.io import sha256_file

log = logging.getLogger(__name__)
SOURCE_FILE = ".source.json"  # in each unpacked tree: the archive's full sha256


def cache_dir() -> Path:
    return Path(os.environ.get("OFA_CACHE", Path.home() / ".cache" / "ofa-deploy"))


def cache_target(tar_path: Path, digest: str) -> Path:
    """Where ``tar_path`` unpacks: keyed by its content hash, so two different archives of the same name and
    size never share a tree. (Trees of older versions, ``<stem>-<bytes>``, are never matched again.)"""
    return cache_dir() / f"{tar_path.name.split('.')[0]}-sha256-{digest[:20]}"


def _is_unpacked(target: Path, digest: str) -> bool:
    """A complete tree of the archive with this hash (the marker is written before the tree is renamed in)."""
    try:
        return (target / "train").is_dir() and json.loads((target / SOURCE_FILE).read_text())["sha256"] == digest
    except (OSError, ValueError, KeyError, TypeError):
        return False


def unpack(tar_path: Path) -> Path:
    """Extract ``tar_path`` once into the cache (atomically: a killed extraction leaves no half tree)."""
    if not tar_path.is_file():
        raise DataError(f"dataset archive {tar_path} does not exist")
    digest = sha256_file(tar_path)
    target = cache_target(tar_path, digest)
    if _is_unpacked(target, digest):
        return target
    if target.exists():  # a tree without a valid marker: not ours to trust
        shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        log.info("unpacking %s into %s", tar_path, target)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        (tmp / SOURCE_FILE).write_text(json.dumps({"archive": str(tar_path.resolve()), "sha256": digest}))
        _move_into_place(tmp, target, digest)
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"cannot unpack {tar_path}: {exc}; check that it is a complete .tar/.tar.gz "
                        f"(or free space in the cache {cache_dir()}, set by OFA_CACHE)") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _move_into_place(tmp: Path, target: Path, digest: str) -> None:
    """Rename the extracted tree onto ``target``; a concurrent process that got there first is fine."""
    try:
        os.replace(tmp, target)
    except OSError:
        if not _is_unpacked(target, digest):
            raise
