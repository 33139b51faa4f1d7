"""User data in the ImageFolder layout: ``root/train/<class>/*.jpg`` and ``root/val/<class>/*``.

The layout is checked up front (missing root, missing split, empty class folder, class mismatch
between splits); an unreadable image raises :class:`~ofa.errors.DataError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ofa.data.source import DataSource, Split
from ofa.errors import DataError

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".tif", ".tiff"}
VAL_NAMES = ("val", "test", "validation")


def _unreadable(path: Path, exc: Exception) -> DataError:
    return DataError(f"cannot read image {path} ({type(exc).__name__}: {exc}); the file is corrupt or not an image: "
                     "replace it, or delete it from the dataset")


def _decode_errors() -> tuple[type[Exception], ...]:
    """What PIL raises for a file it cannot decode (unknown format, truncated data, a decompression bomb)."""
    from PIL import Image, UnidentifiedImageError

    return UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError


def read_image(path: Path, size: int) -> torch.Tensor:
    """Decode ``path`` to RGB, resize the shorter side to ``size`` and centre-crop: uint8 (3, size, size)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            scale = size / min(w, h)
            if (w, h) != (size, size):
                img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
                w, h = img.size
                left, top = (w - size) // 2, (h - size) // 2
                img = img.crop((left, top, left + size, top + size))
            array = np.asarray(img, dtype=np.uint8)
    except _decode_errors() as exc:
        raise _unreadable(path, exc) from None
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def scan_split(directory: Path) -> dict[str, list[Path]]:
    """Class name -> sorted image files, for one split directory."""
    classes = sorted(p for p in directory.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{directory} has no class folders; expected {directory}/<class>/<image files>")
    found = {}
    for cls in classes:
        files = sorted(p for p in cls.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise DataError(f"class folder {cls} has no images (extensions: {sorted(IMAGE_EXTENSIONS)})")
        found[cls.name] = files
    return found


def _split(files: dict[str, list[Path]], classes: list[str], size: int, cache: bool) -> Split:
    paths = [p for cls in classes for p in files[cls]]
    labels = [i for i, cls in enumerate(classes) for _ in files[cls]]
    memo: dict[int, torch.Tensor] = {}

    def load(i: int) -> torch.Tensor:
        if not cache:
            return read_image(paths[i], size)
        if i not in memo:
            memo[i] = read_image(paths[i], size)
        return memo[i]

    return Split(load=load, labels=labels)


def _first_image_size(path: Path) -> int:
    """The shorter side of ``path``: the dataset's default image size."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
            return min(img.size)
    except _decode_errors() as exc:
        raise _unreadable(path, exc) from None


def load_imagefolder(root: "str | Path", image_size: int | None = None, name: str | None = None) -> DataSource:
    """Open ``root`` as an ImageFolder dataset. ``image_size`` defaults to the first image's size."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"dataset path {root} does not exist")
    if not (root / "train").is_dir():
        raise DataError(f"{root} has no train/ folder; expected {root}/train/<class>/*.jpg and {root}/val/<class>/*.jpg")
    val_dir = next((root / v for v in VAL_NAMES if (root / v).is_dir()), None)
    if val_dir is None:
        raise DataError(f"{root} has no validation folder; add one of {[f'{root}/{v}' for v in VAL_NAMES]}")
    train, val = scan_split(root / "train"), scan_split(val_dir)
    if sorted(train) != sorted(val):
        raise DataError(f"class folders differ between {root / 'train'} and {val_dir}: "
                        f"only in train {sorted(set(train) - set(val))}, only in val {sorted(set(val) - set(train))}")
    classes = sorted(train)
    if image_size is None:
        image_size = _first_image_size(train[classes[0]][0])
    cache = image_size <= 64  # small images: decode once, keep in memory (CIFAR-10 train is ~150 MB)
    return DataSource(
        name=name or root.name,
        classes=classes,
        splits={"train": _split(train, classes, image_size, cache), "val": _split(val, classes, image_size, cache)},
        image_size=image_size,
        description=f"ImageFolder at {root}",
        fingerprint={"root": str(root.resolve()), "train": sum(map(len, train.values())), "val": sum(map(len, val.values()))},
    )
