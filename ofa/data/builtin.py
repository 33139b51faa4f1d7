"""The embedded default dataset: scikit-learn's handwritten digits, as 32x32 RGB images.

1,797 real 8x8 scans of digits 0-9 (UCI ML hand-written digits), shipped inside scikit-learn, so
the demo and the tests need no download. Images are upscaled to 32x32 and replicated to 3 channels;
a fixed stratified split gives 1,438 training and 359 validation images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ofa.data.source import DataSource, Split

IMAGE_SIZE = 32
VAL_FRACTION = 0.2
_SPLIT_SEED = 0


def _digit_images() -> tuple[torch.Tensor, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N,1,8,8) in [0,1]
    big = F.interpolate(pixels, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    images = (big.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    return images, digits.target


def _stratified_split(labels: np.ndarray) -> tuple[list[int], list[int]]:
    rng = np.random.default_rng(_SPLIT_SEED)
    train, val = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_val = int(round(len(idx) * VAL_FRACTION))
        val += idx[:n_val].tolist()
        train += idx[n_val:].tolist()
    return sorted(train), sorted(val)


def load_builtin() -> DataSource:
    images, labels = _digit_images()
    train, val = _stratified_split(labels)

    def split(indices: list[int]) -> Split:
        return Split(load=lambda i, idx=indices: images[idx[i]], labels=[int(labels[i]) for i in indices])

    return DataSource(
        name="builtin",
        classes=[str(d) for d in range(10)],
        splits={"train": split(train), "val": split(val)},
        image_size=IMAGE_SIZE,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        flip=False,  # mirrored digits are other symbols
        description="scikit-learn handwritten digits (UCI), 8x8 upscaled to 32x32 RGB",
        fingerprint={"source": "sklearn.datasets.load_digits", "n": int(len(labels))},
    )
