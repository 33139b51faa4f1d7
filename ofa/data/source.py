"""A dataset source: named splits of labelled images plus what a model needs to know about them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from ofa.data.transforms import Compose, Normalize, TrainAugment, resize_batch
from ofa.errors import DataError


class ImageDataset(Dataset):
    """Labelled images fetched by index through ``load(i) -> uint8 (3, H, W)``, then transformed."""

    def __init__(self, load: Callable[[int], torch.Tensor], labels: list[int], transform: Callable):
        self.load, self.labels, self.transform = load, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.load(index)), self.labels[index]


@dataclass
class Split:
    load: Callable[[int], torch.Tensor]
    labels: list[int]


@dataclass
class DataSource:
    """Train/val splits of one dataset, its classes, image size and normalisation."""

    name: str
    classes: list[str]
    splits: dict[str, Split]
    image_size: int
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    flip: bool = True
    description: str = ""
    fingerprint: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise DataError(f"dataset {self.name} has no split {name!r}; it has {sorted(self.splits)}")
        return self.splits[name]

    def dataset(self, split: str = "train", train: bool | None = None) -> ImageDataset:
        """Images of ``split``; augmented when ``train`` (default: split == 'train')."""
        part = self.split(split)
        augment = (split == "train") if train is None else train
        steps = (TrainAugment(pad=max(2, self.image_size // 8), flip=self.flip),) if augment else ()
        return ImageDataset(part.load, part.labels, Compose(steps + (Normalize(self.mean, self.std),)))

    def loader(self, split: str = "train", batch_size: int = 64, shuffle: bool | None = None, train: bool | None = None,
               seed: int = 0, workers: int = 0, drop_last: bool = False, sampler=None) -> DataLoader:
        shuffle = (split == "train") if shuffle is None else shuffle
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(self.dataset(split, train), batch_size=batch_size, shuffle=shuffle and sampler is None,
                          generator=generator, num_workers=workers, drop_last=drop_last, sampler=sampler,
                          persistent_workers=workers > 0)

    def calibration_batches(self, num_images: int = 2000, batch_size: int = 100, resolution: int | None = None,
                            seed: int = 0) -> Iterator[torch.Tensor]:
        """A fixed random subset of training images (no augmentation), for BN recalibration."""
        dataset = self.dataset("train", train=False)
        indices = list(range(len(dataset)))
        random.Random(seed).shuffle(indices)
        indices = indices[:num_images]
        for start in range(0, len(indices), batch_size):
            batch = torch.stack([dataset[i][0] for i in indices[start : start + batch_size]])
            yield resize_batch(batch, resolution) if resolution else batch

    def summary(self) -> dict:
        return {"name": self.name, "classes": self.num_classes, "image_size": self.image_size,
                **{f"{name}_images": len(split.labels) for name, split in self.splits.items()}}
