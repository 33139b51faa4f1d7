"""Starting a run from a trained supernet, including one trained on other classes (transfer).

``init`` names a supernet directory (an earlier ``ofa train`` or ``ofa import-official``) or an
official OFA checkpoint file (``ofa_mbv3_d234_e346_k357_w1.0`` and the like, imported on the fly).
When the dataset's class count differs from the supernet's head, the classifier is replaced by a new
one, initialised as OFA initialises its heads: weights N(0, 0.01), bias 0. Everything else is
inherited. A schedule stage may freeze the stem, the first block and the first ``freeze_stages``
elastic stages (no gradient, BN statistics kept), so the new head settles before the body adapts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from ofa.errors import ConfigError

log = logging.getLogger(__name__)
HEAD_STD = 0.01


def _is_official_file(init: "str | Path") -> bool:
    return Path(init).is_file()


def _check_exists(init: "str | Path") -> Path:
    path = Path(init)
    if not path.exists():
        raise ConfigError(f"init {path} does not exist; give a supernet directory (from `ofa train` or "
                          "`ofa import-official`) or an official OFA checkpoint file (.pth)")
    return path


def init_space_id(init: "str | Path") -> str:
    """The space id of the supernet ``init`` names (read from its manifest, or inferred from the checkpoint)."""
    path = _check_exists(init)
    if _is_official_file(path):
        from ofa.official import infer_space, read_checkpoint

        return infer_space(read_checkpoint(path)).id
    from ofa.artifacts import read_manifest, refuse_resnet

    return str(refuse_resnet(path, read_manifest(path, "supernet"))["space"]["id"])


def init_head_classes(init: "str | Path") -> int:
    """Classes of the head of the supernet ``init`` names."""
    path = _check_exists(init)
    if _is_official_file(path):
        from ofa.official import read_checkpoint

        state = read_checkpoint(path)
        weight = next((v for k, v in state.items() if k.endswith("classifier.linear.weight")), None)
        if weight is None:
            raise ConfigError(f"{path} has no classifier.linear.weight: not an official OFA checkpoint")
        return int(weight.shape[0])
    from ofa.artifacts import read_manifest

    return int(read_manifest(path, "supernet")["num_classes"])


def load_init(init: "str | Path"):
    """The supernet ``init`` names, with its weights (an official checkpoint is imported)."""
    path = _check_exists(init)
    if _is_official_file(path):
        from ofa.official import import_official

        return import_official(path)
    from ofa.artifacts import load_supernet

    return load_supernet(path, search_space_only=True)


@torch.no_grad()
def reset_classifier(classifier: nn.Linear) -> None:
    """OFA's head initialisation: weights N(0, 0.01), bias 0."""
    nn.init.normal_(classifier.weight, 0.0, HEAD_STD)
    nn.init.zeros_(classifier.bias)


def inherit_weights(net: nn.Module, start: nn.Module, new_head: bool) -> None:
    """Copy ``start``'s weights into ``net``; with ``new_head`` the classifier is re-initialised instead."""
    state = start.state_dict()
    if not new_head:
        net.load_state_dict(state)
        return
    body = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    missing, unexpected = net.load_state_dict(body, strict=False)
    if unexpected or any(not k.startswith("classifier.") for k in missing):
        raise ConfigError(f"init supernet does not fit the new network: missing {missing[:3]}, unexpected {unexpected[:3]}")
    reset_classifier(net.classifier)
    log.info("new %d-class head (N(0, %.2g) weights, zero bias) on the inherited body of %d tensors",
             net.classifier.out_features, HEAD_STD, len(body))


def frozen_modules(net, n_stages: int) -> list[nn.Module]:
    """The stem, the fixed first block and the blocks of the first ``n_stages`` elastic stages."""
    if n_stages <= 0:
        return []
    if n_stages > net.space.n_stages:
        raise ConfigError(f"freeze_stages={n_stages} but space {net.space.id} has {net.space.n_stages} elastic stages")
    return [net.stem, net.blocks[0], *net.stage_blocks(range(n_stages))]


def set_frozen(net: nn.Module, modules: list[nn.Module]) -> None:
    """Only ``modules`` stop receiving gradients (everything else trains again)."""
    net.requires_grad_(True)
    for module in modules:
        module.requires_grad_(False)
    if modules:
        log.info("frozen: %d modules (%d tensors)", len(modules), sum(1 for m in modules for _ in m.parameters()))
