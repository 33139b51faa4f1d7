"""Import of MIT's official OFA-ResNet50 checkpoints (``ofa_resnet50``) into :class:`~ofa.nn.resnet.OFAResNet`.

Our parameter names are the official ones with the dynamic layers' repetitions folded (``.conv.conv.weight``
-> ``.conv.weight``, ``.bn.bn.`` -> ``.bn.``, ``.linear.linear.`` -> ``.linear.``), so every key maps by
:func:`ofa.official.normalize_key`; an unknown or missing key, or a shape that differs, is an error.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ofa.errors import ArtifactError, ConfigError
from ofa.official import import_official_state, normalize_key, read_checkpoint
from ofa.spaces.resnet import OFA_RESNET50, ResNetConfig, ResNetSpace


def is_resnet_checkpoint(state: dict[str, torch.Tensor]) -> bool:
    """An OFA-ResNet state dict has the three-conv ``input_stem``; MBv3/ProxylessNAS ones a ``first_conv``."""
    return any(normalize_key(k).startswith("input_stem.") for k in state)


def import_official_any(path: "str | Path", space=None):
    """An official checkpoint of either family, told apart by its keys: an :class:`~ofa.nn.resnet.OFAResNet`
    for OFA-ResNet (``space``: None, a ResNet space id, file or :class:`ResNetSpace`), else an
    :class:`~ofa.nn.supernet.OFASupernet` (``space``: None to infer it from the stem, or a space id)."""
    from ofa.resnet_artifacts import RESNET_SPACES, resnet_space

    state = read_checkpoint(path)
    wants_resnet = isinstance(space, ResNetSpace) or (space is not None and str(space) in RESNET_SPACES)
    if is_resnet_checkpoint(state):
        if space is not None and not wants_resnet and not str(space).endswith((".json", ".yaml", ".yml")):
            raise ConfigError(f"{path} is an OFA-ResNet checkpoint (input_stem.* keys), but --space {space} is not a "
                              f"ResNet space; pass one of {sorted(RESNET_SPACES)} or a ResNet space file, or omit it")
        return resnet_from_state(state, resnet_space(space), path)
    if wants_resnet:
        raise ArtifactError(f"{path} is not an OFA-ResNet checkpoint (no input_stem.* keys), but --space {space} is; "
                            "pass the checkpoint of that space, or omit --space")
    return import_official_state(state, space)


def import_official_resnet(path: "str | Path", space: ResNetSpace = OFA_RESNET50):
    """An :class:`~ofa.nn.resnet.OFAResNet` holding an official OFA-ResNet checkpoint's weights (eval mode)."""
    return resnet_from_state(read_checkpoint(path), space, path)


def resnet_from_state(state: dict[str, torch.Tensor], space: ResNetSpace, path: "str | Path"):
    """An OFA-ResNet state dict (official keys) loaded into an :class:`~ofa.nn.resnet.OFAResNet` of ``space``."""
    from ofa.nn.resnet import OFAResNet

    state = {normalize_key(k): v for k, v in state.items()}
    weight = state.get("classifier.linear.weight")
    if weight is None:
        raise ArtifactError(f"{path} has no classifier.linear.weight: not an OFA-ResNet checkpoint")
    net = OFAResNet(space, int(weight.shape[0]))
    expected = net.state_dict()
    unknown, missing = sorted(set(state) - set(expected)), sorted(set(expected) - set(state))
    if unknown or missing:
        raise ArtifactError(f"{path} does not fit {space.id}: {len(unknown)} unknown key(s) {unknown[:3]}, "
                            f"{len(missing)} missing {missing[:3]}")
    wrong = [f"{k}: checkpoint {tuple(v.shape)} vs space {tuple(expected[k].shape)}" for k, v in state.items()
             if v.shape != expected[k].shape]
    if wrong:
        raise ArtifactError(f"{path} shapes do not fit {space.id} (other width multipliers?): {wrong[:3]}; "
                            "pass --space with a ResNet space file giving the checkpoint's w_choices")
    net.load_state_dict(state, strict=True)
    return net.eval()


def resnet_config_from_official(space: ResNetSpace, d, e, w, r: int) -> ResNetConfig:
    """The official ``set_active_subnet(d, e, w)`` selection as our config: the same three lists (``w`` holds
    indices into the width multipliers, as officially), validated."""
    return ResNetConfig.from_dict({"d": d, "e": e, "w": w, "r": r}, space)
