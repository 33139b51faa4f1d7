"""Starting a run from a trained supernet, including one trained on other classes (transfer).

``init`` names a supernet directory (an earlier ``ofa train`` or ``ofa import-official``) or an
official OFA checkpoint file (``ofa_mbv3_d234_e346_k357_w1.0``, ``ofa_resnet50`` and the like, imported on
the fly); OFA-ResNet supernets train through :class:`~ofa.train.resnet_family.ResNetFamily`.
When the dataset's class count differs from the supernet's head, the classifier is replaced by a new
one, initialised as OFA initialises its heads: weights N(0, 0.01), bias 0. Everything else is
inherited. A schedule stage may freeze the stem, the first block and the first ``freeze_stages``
elastic stages (OFA-ResNet: the input stem and the first ``freeze_stages`` stages; no gradient, BN
statistics kept), so the new head settles before the body adapts.
"""

from __future__ import annotations

import functools
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
        if _official_is_resnet(path):
            from ofa.resnet_artifacts import resnet_space

            return resnet_space(None).id
        from ofa.official import infer_space, read_checkpoint

        return infer_space(read_checkpoint(path)).id
    from ofa.artifacts import read_manifest

    return str(read_manifest(path, "supernet")["space"]["id"])


def resnet_init_space(init: "str | Path", space: "str | None" = None):
    """The :class:`~ofa.spaces.resnet.ResNetSpace` of an OFA-ResNet ``init`` (None for another family).

    A supernet directory brings its own space (``space``, when given, must be its id); an official
    checkpoint takes ``space`` (an OFA-ResNet id or space file; default ``ofa_resnet50``).
    """
    from ofa.resnet_artifacts import resnet_space

    path = _check_exists(init)
    if _is_official_file(path):
        return resnet_space(space) if _official_is_resnet(path) else None
    from ofa.artifacts import read_manifest

    manifest = read_manifest(path, "supernet")
    if manifest.get("family") != "resnet":
        return None
    own = resnet_space(manifest["space"])
    if space is not None and str(space) != own.id:
        raise ConfigError(f"init {path} is an OFA-ResNet supernet of space {own.id}, not {space}; drop --space "
                          f"(or set space: {own.id}; the presets smoke/demo* name a MobileNetV3 space: use --preset "
                          "transfer-resnet)")
    return own


def init_is_resnet(init: "str | Path") -> bool:
    """Whether ``init`` names an OFA-ResNet supernet directory or official checkpoint."""
    path = _check_exists(init)
    if _is_official_file(path):
        return _official_is_resnet(path)
    from ofa.artifacts import read_manifest

    return read_manifest(path, "supernet").get("family") == "resnet"


def _official_is_resnet(path: Path) -> bool:
    stat = path.stat()
    return _checkpoint_is_resnet(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _checkpoint_is_resnet(path: str, mtime_ns: int, size: int) -> bool:  # a config resolves several times
    from ofa.official import read_checkpoint
    from ofa.official_resnet import is_resnet_checkpoint

    return is_resnet_checkpoint(read_checkpoint(path))


def init_head_classes(init: "str | Path") -> int:
    """Classes of the head of the supernet ``init`` names."""
    path = _check_exists(init)
    if _is_official_file(path):
        from ofa.official import normalize_key, read_checkpoint

        state = read_checkpoint(path)  # official keys (``classifier.linear.linear.weight`` in OFA-ResNet ones)
        weight = next((v for k, v in state.items() if normalize_key(k).endswith("classifier.linear.weight")), None)
        if weight is None:
            raise ConfigError(f"{path} has no classifier.linear.weight: not an official OFA checkpoint")
        return int(weight.shape[0])
    from ofa.artifacts import read_manifest

    return int(read_manifest(path, "supernet")["num_classes"])


def load_init(init: "str | Path", space=None):
    """The supernet ``init`` names, with its weights (an official checkpoint is imported; ``space``: the
    OFA-ResNet space of an official ResNet checkpoint)."""
    path = _check_exists(init)
    if _is_official_file(path):
        if _official_is_resnet(path):
            from ofa.official_resnet import import_official_resnet
            from ofa.resnet_artifacts import resnet_space

            return import_official_resnet(path, resnet_space(space))
        from ofa.official import import_official

        return import_official(path)
    from ofa.artifacts import load_supernet

    return load_supernet(path, search_space_only=not init_is_resnet(path))


@torch.no_grad()
def reset_classifier(classifier: nn.Module) -> None:
    """OFA's head initialisation: weights N(0, 0.01), bias 0 (an OFA-ResNet head's ``linear`` layer)."""
    classifier = getattr(classifier, "linear", classifier)
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
             net.num_classes, HEAD_STD, len(body))


def set_frozen(net: nn.Module, modules: list[nn.Module]) -> None:
    """Only ``modules`` stop receiving gradients (everything else trains again)."""
    net.requires_grad_(True)
    for module in modules:
        module.requires_grad_(False)
    if modules:
        log.info("frozen: %d modules (%d tensors)", len(modules), sum(1 for m in modules for _ in m.parameters()))
