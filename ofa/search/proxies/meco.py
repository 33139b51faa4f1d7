"""MeCo (Jiang et al., NeurIPS'23): the smallest eigenvalue of each layer's channel correlation matrix.

One forward pass of the first proxy batch (no labels, no backward; BN on the batch's statistics). For
the output of every convolution, the Pearson correlation matrix of its channels is taken over all
positions of the batch (the paper uses one image; the batch keeps the matrix full rank where a layer has
more channels than positions, as the 2x2 maps of a 32x32 network do), and its smallest eigenvalue
added to the score. Channels that never vary correlate with nothing (their rows count as zeros).
"""

from __future__ import annotations

import torch
from torch import nn

from ofa.search.proxies.common import ProxyBatch, resolution

NAME = "meco"


def score(net: nn.Module, batches: list[ProxyBatch]) -> float:
    batch = batches[0].at(resolution(net, batches))
    total = [0.0]

    def add_min_eigenvalue(module, inputs, output) -> None:
        features = output.detach().transpose(0, 1).flatten(1)
        if features.shape[0] < 2:
            return
        corr = torch.nan_to_num(torch.corrcoef(features), nan=0.0).double()
        total[0] += float(torch.linalg.eigvalsh(corr)[0])

    hooks = [m.register_forward_hook(add_min_eigenvalue) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            net(batch.images)
    finally:
        for hook in hooks:
            hook.remove()
    return total[0]
