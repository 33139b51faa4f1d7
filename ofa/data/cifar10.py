"""CIFAR-10 from the shared tar of JPEGs (``shared/data/cifar10_jpg``), unpacked once into a cache."""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from ofa.data.imagefolder import load_imagefolder
from ofa.data.source import DataSource
from ofa.errors import DataError

log = logging.getLogger(__name__)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def cache_dir() -> Path:
    return Path(os.environ.get("OFA_CACHE", Path.home() / ".cache" / "ofa-deploy"))


def default_tar() -> Path:
    """The shared copy next to the repository (``../shared/data/cifar10_jpg/cifar10_jpg.tar.gz``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data" / "cifar10_jpg" / "cifar10_jpg.tar.gz"
        if candidate.is_file():
            return candidate
    raise DataError("CIFAR-10 tar not found next to the repository; pass its path (…/cifar10_jpg.tar.gz)")


def unpack(tar_path: Path) -> Path:
    """Extract ``tar_path`` once into the cache (atomically: a killed extraction leaves no half tree)."""
    if not tar_path.is_file():
        raise DataError(f"dataset archive {tar_path} does not exist")
    target = cache_dir() / f"{tar_path.name.split('.')[0]}-{tar_path.stat().st_size}"
    if (target / "train").is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        log.info("unpacking %s into %s", tar_path, target)
        with tarfile.open(tar_path) as tar:
            tar.extractall(tmp, filter="data")
        os.replace(tmp, target)
    except (tarfile.TarError, OSError) as exc:
        raise DataError(f"cannot unpack {tar_path}: {exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_cifar10(tar_path: "str | Path | None" = None) -> DataSource:
    root = unpack(Path(tar_path) if tar_path else default_tar())
    source = load_imagefolder(root, image_size=32, name="cifar10")
    source.mean, source.std = CIFAR10_MEAN, CIFAR10_STD
    source.description = "CIFAR-10 (JPEG re-encoding, 50k train / 10k test as val)"
    return source
