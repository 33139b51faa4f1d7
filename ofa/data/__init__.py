"""Datasets: the embedded default (``builtin``), ImageFolder directories, and CIFAR-10 tars.

``open_dataset(spec)`` takes ``"builtin"``, ``"cifar10"`` (the shared tar), a directory in the
ImageFolder layout, or a ``.tar``/``.tar.gz`` of one.
"""

from __future__ import annotations

from pathlib import Path

from ofa.data.source import DataSource, ImageDataset
from ofa.data.transforms import resize_batch
from ofa.errors import DataError


def open_dataset(spec: "str | Path", image_size: int | None = None) -> DataSource:
    text = str(spec)
    if text == "builtin":
        from ofa.data.builtin import load_builtin

        return load_builtin()
    if text == "cifar10":
        from ofa.data.cifar10 import load_cifar10

        return load_cifar10()
    path = Path(text)
    if not path.exists():
        raise DataError(f"dataset path {text} does not exist: give 'builtin', 'cifar10', an ImageFolder directory, or a .tar.gz of one")
    if path.is_file() and (path.name.endswith(".tar.gz") or path.suffix in {".tar", ".tgz"}):
        from ofa.data.archive import unpack
        from ofa.data.cifar10 import load_cifar10
        from ofa.data.imagefolder import load_imagefolder

        if "cifar10" in path.name:
            return load_cifar10(path)
        return load_imagefolder(unpack(path), image_size)
    from ofa.data.imagefolder import load_imagefolder

    return load_imagefolder(path, image_size)


__all__ = ["DataSource", "ImageDataset", "open_dataset", "resize_batch"]
