"""ZiCo (Li et al., ICLR'23): layers whose gradients are large and agree across batches score high.

For each proxy batch, one backward pass of the cross-entropy (BN on the batch's statistics) gives every
weight's gradient. Per conv/linear layer ``l``: ``log(sum over its weights of mean|g| / std(g))``, the
mean and standard deviation taken across the batches (weights whose gradient never varies are left
out); the score is the sum over layers. Needs at least two batches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ofa.errors import ConfigError
from ofa.search.proxies.common import ProxyBatch, resolution, weight_layers

NAME = "zico"


def score(net: nn.Module, batches: list[ProxyBatch]) -> float:
    if len(batches) < 2:
        raise ConfigError(f"zico compares gradients across batches: give at least 2 batches, got {len(batches)}")
    size = resolution(net, batches)
    layers = weight_layers(net)
    grads: list[list[torch.Tensor]] = [[] for _ in layers]
    for batch in (b.at(size) for b in batches):
        net.zero_grad()
        F.cross_entropy(net(batch.images), batch.labels).backward()
        for store, layer in zip(grads, layers):
            if layer.weight.grad is not None:
                store.append(layer.weight.grad.detach().flatten().double().clone())
    total = 0.0
    for store in grads:
        if len(store) < 2:
            continue
        stacked = torch.stack(store)
        std = stacked.std(0)
        keep = std > 0
        ratio = float((stacked.abs().mean(0)[keep] / std[keep]).sum())
        if ratio > 0:
            total += math.log(ratio)
    return total
