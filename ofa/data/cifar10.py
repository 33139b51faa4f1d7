"""CIFAR-10 from the shared tar of JPEGs (``shared/data/cifar10_jpg``), unpacked once into a cache."""

from __future__ import annotations

from pathlib import Path

from ofa.data.archive import unpack
from ofa.data.imagefolder import load_imagefolder
from ofa.data.source import DataSource
from ofa.errors import DataError

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def default_tar() -> Path:
    """The shared copy next to the repository (``../shared/data/cifar10_jpg/cifar10_jpg.tar.gz``)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data" / "cifar10_jpg" / "cifar10_jpg.tar.gz"
        if candidate.is_file():
            return candidate
    raise DataError("CIFAR-10 tar not found next to the repository; pass its path (…/cifar10_jpg.tar.gz)")


def load_cifar10(tar_path: "str | Path | None" = None) -> DataSource:
    root = unpack(Path(tar_path) if tar_path else default_tar())
    source = load_imagefolder(root, image_size=32, name="cifar10")
    source.mean, source.std = CIFAR10_MEAN, CIFAR10_STD
    source.description = "CIFAR-10 (JPEG re-encoding, 50k train / 10k test as val)"
    return source
