"""Zero-cost proxies: training-free scores of a static sub-network from a few batches of real data.

Each proxy is one small module registered in :data:`PROXIES` under its name; :func:`score` runs one on a
copy of the network (the caller's network is never changed). Higher is better for every proxy.

- ``synflow``: SynFlow's synaptic saliency summed over all parameters (Tanaka et al., NeurIPS'20;
  as a NAS proxy: Abdelfattah et al., ICLR'21). Data-free.
- ``naswot``: log-determinant of the activation-code kernel (Mellor et al., ICML'21).
- ``grad_norm``: sum of the L2 norms of the loss gradients of every weight (Abdelfattah et al., ICLR'21).
- ``zico``: sum over layers of the log of the inverse coefficient of variation of the per-batch
  gradients (Li et al., ICLR'23).
- ``meco``: sum over layers of the smallest eigenvalue of the channels' Pearson correlation matrix
  (Jiang et al., NeurIPS'23).

Batch norm, the same for every proxy that sees data: the network runs in eval mode except its BN layers,
which use the statistics of the proxy batch (train mode) -- the supernet's running statistics belong to no
particular sub-network, and the batch statistics are what BN recalibration would estimate. Dropout is off.
SynFlow alone removes BN (identity), because its all-ones input has no batch statistics.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch

from ofa.registry import Registry
from ofa.search.proxies.common import ProxyBatch, batch_norm_from_batch, make_proxy_batches

Proxy = Callable[[torch.nn.Module, list[ProxyBatch]], float]
PROXIES: Registry[Proxy] = Registry("zero-cost proxy")


def _register_builtins() -> None:
    from ofa.search.proxies import grad_norm, meco, naswot, synflow, zico

    for module in (synflow, naswot, grad_norm, zico, meco):
        PROXIES.register(module.NAME, module.score)


_register_builtins()


def score(name: str, net: torch.nn.Module, batches: list[ProxyBatch], seed: int = 0) -> float:
    """Proxy ``name`` of ``net`` on ``batches`` (deterministic for ``seed``); ``net`` is left untouched."""
    proxy = PROXIES.get(name)
    torch.manual_seed(seed)
    work = copy.deepcopy(net)
    batch_norm_from_batch(work)
    return float(proxy(work, batches))


__all__ = ["PROXIES", "ProxyBatch", "make_proxy_batches", "score"]
