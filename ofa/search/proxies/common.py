"""What every proxy shares: the proxy batches, the BN mode, and the layers a proxy sums over."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import nn

from ofa.data import DataSource, resize_batch
from ofa.errors import ConfigError


@dataclass(frozen=True)
class ProxyBatch:
    """Normalised images (N, 3, r, r) and their labels (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def at(self, resolution: int) -> "ProxyBatch":
        return ProxyBatch(resize_batch(self.images, resolution), self.labels)


def make_proxy_batches(source: DataSource, batches: int = 2, batch_size: int = 64, seed: int = 0) -> list[ProxyBatch]:
    """``batches`` fixed batches of training images (no augmentation), drawn at random for ``seed``."""
    if batches < 1 or batch_size < 2:
        raise ConfigError(f"proxies need at least 1 batch of at least 2 images, got {batches} x {batch_size}")
    dataset = source.dataset("train", train=False)
    if len(dataset) < batches * batch_size:
        raise ConfigError(f"{source.name} has {len(dataset)} training images, fewer than {batches} batches of "
                          f"{batch_size}; lower --batches or --batch-size")
    order = list(range(len(dataset)))
    random.Random(seed).shuffle(order)
    out = []
    for b in range(batches):
        items = [dataset[i] for i in order[b * batch_size:(b + 1) * batch_size]]
        out.append(ProxyBatch(torch.stack([x for x, _ in items]), torch.tensor([y for _, y in items])))
    return out


def batch_norm_from_batch(net: nn.Module) -> nn.Module:
    """Eval mode (no dropout) except BN layers, which normalise with the current batch's statistics."""
    net.eval()
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
    return net


def weight_layers(net: nn.Module) -> list[nn.Module]:
    """The convolutions and linear layers: what gradient proxies sum over (one entry per layer)."""
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def resolution(net: nn.Module, batches: list[ProxyBatch]) -> int:
    """The input resolution of ``net`` (a static sub-network knows it; otherwise the batches' own)."""
    config = getattr(net, "config", None)
    return int(config.r) if config is not None else int(batches[0].images.shape[-1])
