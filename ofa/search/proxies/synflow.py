"""SynFlow (Tanaka et al., NeurIPS'20): the synaptic saliency of every parameter, summed; needs no data.

Every parameter is replaced by its absolute value and the network (in float64, to keep the product of
~20 layers' weights in range) is fed one all-ones image at its resolution; ``R`` is the sum of its
outputs and the score is ``sum(theta * dR/dtheta)`` over all parameters. BN layers become identities:
an all-ones input has no batch statistics, and SynFlow measures the weights' path norm, not the data.
A network with a layer of zeros scores (almost) nothing: no path crosses that layer.
"""

from __future__ import annotations

import torch
from torch import nn

from ofa.search.proxies.common import ProxyBatch, resolution

NAME = "synflow"


def score(net: nn.Module, batches: list[ProxyBatch]) -> float:
    size = resolution(net, batches)
    _remove_batch_norm(net)
    net.double()
    with torch.no_grad():
        for param in net.parameters():
            param.abs_()
    net.zero_grad()
    net(torch.ones(1, 3, size, size, dtype=torch.float64)).sum().backward()
    total = sum(float((p.detach() * p.grad).sum()) for p in net.parameters() if p.grad is not None)
    return total


def _remove_batch_norm(net: nn.Module) -> None:
    for module in list(net.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(module, name, nn.Identity())
