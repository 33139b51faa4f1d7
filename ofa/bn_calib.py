"""BatchNorm recalibration: re-estimate a sub-network's BN statistics on training images.

Sub-networks share the supernet's BN layers, whose running statistics belong to no single
sub-network; OFA re-estimates them on ~2,000 training images before evaluating. Here the running
statistics are reset and re-computed as exact averages over the calibration batches (cumulative
average, ``momentum=None``). Deterministic for a given image set and batch size.
"""

from __future__ import annotations

import logging
from typing import Iterable

import torch
from torch import nn

log = logging.getLogger(__name__)


def _bn_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(model: nn.Module, batches: Iterable[torch.Tensor], max_images: int | None = None) -> int:
    """Recompute BN running statistics of ``model`` from image ``batches``; returns images used.

    ``batches`` yields image tensors (N, 3, H, W), already normalised and at the model's resolution.
    The model is left in eval mode.
    """
    layers = _bn_layers(model)
    saved = [(bn.momentum, bn.training) for bn in layers]
    for bn in layers:
        bn.reset_running_stats()
        bn.momentum = None
    model.eval()
    for bn in layers:
        bn.train()
    seen = 0
    try:
        for images in batches:
            if max_images is not None and seen >= max_images:
                break
            if max_images is not None:
                images = images[: max_images - seen]
            model(images)
            seen += images.shape[0]
    finally:
        for bn, (momentum, _) in zip(layers, saved):
            bn.momentum = momentum
        model.eval()
    if seen == 0 and layers:
        from ofa.errors import DataError

        raise DataError("BN recalibration got no images; give a dataset with training images")
    log.debug("recalibrated %d BN layers on %d images", len(layers), seen)
    return seen
