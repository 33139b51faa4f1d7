"""grad-norm (Abdelfattah et al., ICLR'21): the summed L2 norms of every weight's loss gradient.

One backward pass of the cross-entropy on the first proxy batch (BN on its statistics); the score is
``sum over conv and linear layers of ||dL/dW||_2``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ofa.search.proxies.common import ProxyBatch, resolution, weight_layers

NAME = "grad_norm"


def score(net: nn.Module, batches: list[ProxyBatch]) -> float:
    batch = batches[0].at(resolution(net, batches))
    net.zero_grad()
    F.cross_entropy(net(batch.images), batch.labels).backward()
    return sum(float(m.weight.grad.norm()) for m in weight_layers(net) if m.weight.grad is not None)
