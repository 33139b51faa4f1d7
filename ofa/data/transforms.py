"""Image transforms on uint8 ``(3, H, W)`` tensors: augmentation, normalisation, batch resizing.

No torchvision: the few transforms OFA training needs are written here with torch ops.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


def resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a float batch (N, C, H, W) to ``size x size`` (bilinear, antialiased when shrinking)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=images.shape[-1] > size)


@dataclass(frozen=True)
class Normalize:
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        x = image.float().div_(255.0)
        mean = torch.tensor(self.mean).view(-1, 1, 1)
        std = torch.tensor(self.std).view(-1, 1, 1)
        return (x - mean) / std


@dataclass(frozen=True)
class TrainAugment:
    """Random crop of a zero-padded image (the CIFAR recipe) and optional horizontal flip."""

    pad: int = 4
    flip: bool = True

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        _, h, w = image.shape
        if self.pad:
            padded = F.pad(image, (self.pad,) * 4)
            top = int(torch.randint(0, 2 * self.pad + 1, ()))
            left = int(torch.randint(0, 2 * self.pad + 1, ()))
            image = padded[:, top : top + h, left : left + w]
        if self.flip and bool(torch.rand(()) < 0.5):
            image = image.flip(-1)
        return image


@dataclass(frozen=True)
class Compose:
    steps: tuple

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        for step in self.steps:
            image = step(image)
        return image
