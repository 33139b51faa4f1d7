"""Shared helpers of the export tests: small sub-networks, trained for seconds on the built-in digits
(an untrained network's logits are near-ties, which says nothing about int8 parity)."""

from __future__ import annotations

import contextlib
from functools import lru_cache

import torch

from ofa.artifacts import ModelInfo
from ofa.bn_calib import recalibrate_bn
from ofa.data import open_dataset, resize_batch
from ofa.nn.static import StaticSubnet
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig


@lru_cache(maxsize=1)
def digits():
    return open_dataset("builtin")


@contextlib.contextmanager
def one_thread():
    """Torch on one thread: the test machine's 2 cores are shared, and oversubscribed threads crawl."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def digits_info() -> ModelInfo:
    source = digits()
    return ModelInfo(num_classes=10, mean=source.mean, std=source.std, labels=list(source.classes))


def make_subnet(space_id: str, seed: int, resolution: int, epochs: int = 0, head_images: int = 0,
                bn_images: int = 400) -> StaticSubnet:
    """A static sub-network of ``space_id`` trained ``epochs`` on the digits (or only its classifier
    fitted on ``head_images`` digits' features), with BN statistics from real digits."""
    space = get_space(space_id)
    cfg = SubnetConfig.sample(space, seed).with_resolution(resolution)
    torch.manual_seed(seed)
    net = StaticSubnet(space, cfg, 10)
    net.info = digits_info()
    with one_thread():
        if epochs:
            train_briefly(net, epochs, resolution, seed)
        recalibrate_bn(net, digits().calibration_batches(bn_images, 100, resolution, seed))
        if head_images:
            fit_classifier(net, resolution, head_images, seed)
    return net.eval()


@torch.no_grad()
def _features(net: StaticSubnet, images: torch.Tensor) -> torch.Tensor:
    captured = []
    hook = net.classifier.register_forward_hook(lambda module, args, out: captured.append(args[0]))
    try:
        net(images)
    finally:
        hook.remove()
    return captured[0]


def fit_classifier(net: StaticSubnet, resolution: int, num_images: int, seed: int = 0, steps: int = 300,
                   weight_decay: float = 0.05) -> None:
    """Fit only the last linear layer (full-batch Adam on cached features)."""
    dataset = digits().dataset("train", train=False)
    indices = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:num_images].tolist()
    images = resize_batch(torch.stack([dataset[i][0] for i in indices]), resolution)
    labels = torch.tensor([dataset.labels[i] for i in indices])
    net.eval()
    feats = _features(net, images)
    feats_std = feats.std(0, keepdim=True) + 1e-6
    head = torch.nn.Linear(feats.shape[1], 10)
    optimizer = torch.optim.Adam(head.parameters(), lr=0.05, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(head(feats / feats_std), labels).backward()
        optimizer.step()
    with torch.no_grad():  # fold the feature scaling into the classifier
        net.classifier.weight.copy_(head.weight / feats_std)
        net.classifier.bias.copy_(head.bias)


def train_briefly(net: StaticSubnet, epochs: int, resolution: int, seed: int = 0) -> None:
    """A few epochs of Adam on the digits (the tiny space: ~5-10 s an epoch on one core)."""
    loader = digits().loader("train", batch_size=64, seed=seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-3)
    net.train()
    for _ in range(epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(resize_batch(images, resolution)), labels).backward()
            optimizer.step()
    net.eval()
