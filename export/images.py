"""Real images for calibration and validation, at the model's resolution and normalisation."""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from ofa.errors import DataError


@dataclass
class ExportImages:
    calibration: np.ndarray  # (N, 3, r, r) float32, training split
    validation: np.ndarray  # (M, 3, r, r) float32, validation split (training split if none)
    labels: np.ndarray | None  # (M,) class indices, when the dataset's classes are the model's
    source: dict  # dataset name, splits and counts used


def load_images(spec: str, resolution: int, mean, std, num_classes: int, calib_images: int = 200,
                val_images: int = 256, seed: int = 0) -> ExportImages:
    """``calib_images`` training and ``val_images`` validation images of dataset ``spec``."""
    from ofa.data import open_dataset

    source = open_dataset(spec)
    renorm = _renormalise(source.mean, source.std, mean, std)
    calib = _take(source.dataset("train", train=False), calib_images, seed, resolution, renorm)
    val_split = "val" if "val" in source.splits else "train"
    val_set = source.dataset(val_split, train=False)
    val, picked = _take(val_set, val_images, seed + 1, resolution, renorm)
    labels = None
    if source.num_classes == num_classes:
        labels = np.asarray([val_set.labels[i] for i in picked])
    if len(calib[0]) == 0 or len(val) == 0:
        raise DataError(f"dataset {spec!r} gave no images for export calibration/validation; give a dataset with images")
    return ExportImages(calib[0], val, labels, {
        "dataset": source.name, "calibration_split": "train", "calibration_images": int(len(calib[0])),
        "validation_split": val_split, "validation_images": int(len(val)), "labelled": labels is not None,
        "seed": seed})


def _take(dataset, count: int, seed: int, resolution: int, renorm):
    from ofa.data import resize_batch

    indices = list(range(len(dataset)))
    random.Random(seed).shuffle(indices)
    indices = sorted(indices[:count])
    if not indices:
        return np.zeros((0, 3, resolution, resolution), np.float32), indices
    batch = torch.stack([dataset[i][0] for i in indices])
    batch = renorm(resize_batch(batch, resolution))
    return batch.numpy().astype(np.float32), indices


def _renormalise(src_mean, src_std, mean, std):
    """Map images normalised with the dataset's mean/std onto the model's mean/std."""
    src_m, src_s = torch.tensor(src_mean).view(1, -1, 1, 1), torch.tensor(src_std).view(1, -1, 1, 1)
    dst_m, dst_s = torch.tensor(mean).view(1, -1, 1, 1), torch.tensor(std).view(1, -1, 1, 1)
    return lambda x: ((x * src_s + src_m) - dst_m) / dst_s
