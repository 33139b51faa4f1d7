"""Import of MIT's official OFA-ResNet50 checkpoints (``ofa_resnet50``) into :class:`~ofa.nn.resnet.OFAResNet`.

Our parameter names are the official ones with the dynamic layers' repetitions folded (``.conv.conv.weight``
-> ``.conv.weight``, ``.bn.bn.`` -> ``.bn.``, ``.linear.linear.`` -> ``.linear.``), so every key maps by
:func:`ofa.official.normalize_key`; an unknown or missing key, or a shape that differs, is an error.
"""

from __future__ import annotations

from pathlib import Path

from ofa.errors import ArtifactError
from ofa.official import normalize_key, read_checkpoint
from ofa.spaces.resnet import OFA_RESNET50, ResNetConfig, ResNetSpace


def import_official_resnet(path: "str | Path", space: ResNetSpace = OFA_RESNET50):
    """An :class:`~ofa.nn.resnet.OFAResNet` holding an official OFA-ResNet checkpoint's weights (eval mode)."""
    from ofa.nn.resnet import OFAResNet

    state = {normalize_key(k): v for k, v in read_checkpoint(path).items()}
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
        raise ArtifactError(f"{path} shapes do not fit {space.id} (other width multipliers?): {wrong[:3]}")
    net.load_state_dict(state, strict=True)
    return net.eval()


def resnet_config_from_official(space: ResNetSpace, d, e, w, r: int) -> ResNetConfig:
    """The official ``set_active_subnet(d, e, w)`` selection as our config: the same three lists (``w`` holds
    indices into the width multipliers, as officially), validated."""
    return ResNetConfig.from_dict({"d": d, "e": e, "w": w, "r": r}, space)
