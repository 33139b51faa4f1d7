"""Extraction: the static ``nn.Module`` of a supernet's sub-network, weights copied."""

from __future__ import annotations

import torch

from ofa.nn.static import StaticSubnet
from ofa.nn.supernet import OFASupernet
from ofa.subnet import SubnetConfig


def static_state_dict(supernet: OFASupernet, cfg: SubnetConfig) -> dict[str, torch.Tensor]:
    """The state dict of ``StaticSubnet(space, cfg)``, sliced (and kernel-transformed) from the supernet."""
    cfg.validate(supernet.space)
    state: dict[str, torch.Tensor] = {}
    fixed = {k: v for k, v in supernet.state_dict().items() if not k.startswith("blocks.")}
    state.update(fixed)
    slots = [0] + [slot + 1 for slot in cfg.active_slots(supernet.space)]
    for index, slot in enumerate(slots):
        block = supernet.blocks[slot]
        kernel = 3 if slot == 0 else cfg.ks[slot - 1]
        expand = 1 if slot == 0 else cfg.e[slot - 1]
        for name, tensor in block.static_state(kernel, expand).items():
            state[f"blocks.{index}.{name}"] = tensor
    return {k: v.detach().clone().contiguous() for k, v in state.items()}


@torch.no_grad()
def extract_subnet(supernet: OFASupernet, cfg: SubnetConfig) -> StaticSubnet:
    """Build the static network of ``cfg`` and copy its weights from ``supernet`` (eval mode)."""
    net = StaticSubnet(supernet.space, cfg, supernet.num_classes, supernet.dropout_rate)
    net.load_state_dict(static_state_dict(supernet, cfg), strict=True)
    return net.eval()
