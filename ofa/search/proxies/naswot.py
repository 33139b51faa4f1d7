"""NASWOT (Mellor et al., ICML'21): how differently the network's ReLUs split the images of one batch.

Each image gets a binary code, one bit per activation unit (is the unit's input positive, i.e. is it in
the linear region; Hardswish units count like ReLUs). ``K[i, j]`` counts the units where images i and j
agree; the score is ``log |det K|``. Images that share a code make ``K`` singular: a network that maps
every input to the same code scores ``-inf``. Uses the first proxy batch, BN on its statistics.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ofa.search.proxies.common import ProxyBatch, resolution

NAME = "naswot"


def score(net: nn.Module, batches: list[ProxyBatch]) -> float:
    batch = batches[0].at(resolution(net, batches))
    n = len(batch.images)
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def add_codes(module, inputs, output) -> None:
        code = (inputs[0] > 0).flatten(1).double()
        kernel.add_(code @ code.T + (1 - code) @ (1 - code).T)

    hooks = [m.register_forward_hook(add_codes) for m in net.modules() if isinstance(m, (nn.ReLU, nn.Hardswish))]
    try:
        with torch.no_grad():
            net(batch.images)
    finally:
        for hook in hooks:
            hook.remove()
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if float(sign) > 0 else -math.inf
