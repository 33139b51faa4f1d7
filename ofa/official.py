"""Import of MIT's official Once-for-All checkpoints (MobileNetV3, ProxylessNAS) into this project's supernet.

Official checkpoints are a state dict (or ``{"state_dict": ...}``) with the key names of the
``ofa`` package, current (``blocks.N.conv.``) or legacy (``blocks.N.mobile_inverted_conv.``), with
dynamic layers spelled ``.conv.conv.``/``.bn.bn.`` or without the repetition. Every key is mapped
explicitly; an unknown or missing key is an error, never silently dropped.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch

from ofa.errors import ArtifactError, ConfigError
from ofa.io import torch_load_reason
from ofa.spaces import SearchSpace, get_space

log = logging.getLogger(__name__)

_RULES = [
    (r"first_conv\.(conv\.weight|bn\.\w+)", r"stem.\1"),
    (r"blocks\.(\d+)\.conv\.inverted_bottleneck\.conv\.weight", r"blocks.\1.expand_conv.weight"),
    (r"blocks\.(\d+)\.conv\.inverted_bottleneck\.bn\.(\w+)", r"blocks.\1.expand_bn.\2"),
    (r"blocks\.(\d+)\.conv\.depth_conv\.conv\.weight", r"blocks.\1.dw_conv.weight"),
    (r"blocks\.(\d+)\.conv\.depth_conv\.conv\.(\d+to\d+)_matrix", r"blocks.\1.dw_conv.kernel_transforms.\2"),
    (r"blocks\.(\d+)\.conv\.depth_conv\.bn\.(\w+)", r"blocks.\1.dw_bn.\2"),
    (r"blocks\.(\d+)\.conv\.depth_conv\.se\.fc\.(reduce|expand)\.(weight|bias)", r"blocks.\1.se.\2.\3"),
    (r"blocks\.(\d+)\.conv\.point_linear\.conv\.weight", r"blocks.\1.project_conv.weight"),
    (r"blocks\.(\d+)\.conv\.point_linear\.bn\.(\w+)", r"blocks.\1.project_bn.\2"),
    (r"final_expand_layer\.(conv\.weight|bn\.\w+)", r"final_expand.\1"),
    (r"feature_mix_layer\.conv\.weight", r"feature_mix.conv.weight"),
    (r"classifier\.linear\.(weight|bias)", r"classifier.\1"),
]
#: ProxylessNAS: its pre-pool 1x1 conv + BN (``feature_mix_layer``) is our ``final_expand`` (no post-pool conv)
_PROXYLESS_HEAD = [(r"feature_mix_layer\.(conv\.weight|bn\.\w+)", r"final_expand.\1")]
_COMPILED = {
    "mbv3": [(re.compile(f"^{pattern}$"), repl) for pattern, repl in _RULES],
    "proxyless": [(re.compile(f"^{pattern}$"), repl) for pattern, repl in
                  _PROXYLESS_HEAD + [rule for rule in _RULES if not rule[0].startswith("feature_mix_layer")]],
}
#: stem width -> official space id
_STEMS = {16: "ofa_mbv3_d234_e346_k357_w1.0", 24: "ofa_mbv3_d234_e346_k357_w1.2", 40: "ofa_proxyless_d234_e346_k357_w1.3"}


def normalize_key(key: str) -> str:
    """Official key (any spelling) -> canonical official spelling."""
    key = key.removeprefix("module.")
    key = key.replace(".mobile_inverted_conv.", ".conv.")
    key = key.replace(".bn.bn.", ".bn.").replace(".conv.conv.weight", ".conv.weight").replace(".linear.linear.", ".linear.")
    return key


def map_key(key: str, family: str = "mbv3") -> str | None:
    canonical = normalize_key(key)
    for pattern, repl in _COMPILED[family]:
        if pattern.match(canonical):
            return pattern.sub(repl, canonical)
    return None


def read_checkpoint(path: "str | Path") -> dict[str, torch.Tensor]:
    """Load a checkpoint safely (``weights_only=True``) and return its flat tensor dict."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise ArtifactError(f"checkpoint {path} is empty (0 bytes): an interrupted download or copy; fetch it again")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated, foreign or pickled-object files
        raise ArtifactError(f"cannot read {path} as a weights-only PyTorch checkpoint: {torch_load_reason(exc)}. "
                            "Use an official OFA checkpoint (a state dict of tensors); this importer never runs code "
                            "from a checkpoint") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ArtifactError(f"{path} is not an OFA state dict (expected a dict of tensors, or {{'state_dict': ...}})")
    return obj


def infer_space(state: dict[str, torch.Tensor]) -> SearchSpace:
    """Pick the official space matching a checkpoint's stem width, kernels and depth."""
    stem = state.get("first_conv.conv.weight")
    if stem is None:
        stem = next((v for k, v in state.items() if normalize_key(k) == "first_conv.conv.weight"), None)
    if stem is None and any(normalize_key(k).startswith("input_stem.") for k in state):
        raise ConfigError("this is an OFA-ResNet checkpoint (input_stem.*): the zoo takes MobileNetV3 and "
                          "ProxylessNAS supernets only; import it with `ofa import-official` (then `ofa extract`, "
                          "`ofa export`, `ofa search`), fine-tune it with `ofa train --init`, or use "
                          "ofa.official_resnet.import_official_resnet(path) (see docs/official_spaces.md)")
    if stem is None:
        raise ArtifactError("checkpoint has no first_conv.conv.weight (MobileNetV3/ProxylessNAS) and no input_stem.* "
                            "(ResNet50): not an official OFA supernet checkpoint")
    proxyless = any(normalize_key(k).startswith("feature_mix_layer.bn.") for k in state)
    space_id = _STEMS.get(stem.shape[0])
    if space_id is None or space_id.startswith("ofa_proxyless") != proxyless:
        family = "ProxylessNAS" if proxyless else "MobileNetV3"
        raise ConfigError(f"no built-in official {family} space has a stem of {stem.shape[0]} channels (known: "
                          f"{ {k: v for k, v in _STEMS.items()} }); pass --space with the checkpoint's space")
    return get_space(space_id)


def convert_state_dict(state: dict[str, torch.Tensor], space: SearchSpace) -> tuple[dict[str, torch.Tensor], int]:
    """Map official keys to this project's supernet keys; returns (state, num_classes)."""
    converted, unknown = {}, []
    for key, tensor in state.items():
        new = map_key(key, space.family)
        if new is None:
            unknown.append(key)
        else:
            converted[new] = tensor
    if unknown:
        raise ArtifactError(f"checkpoint has {len(unknown)} key(s) this importer does not know, e.g. {unknown[:3]}")
    if "classifier.weight" not in converted:
        raise ArtifactError("checkpoint has no classifier.linear.weight")
    return converted, int(converted["classifier.weight"].shape[0])


def import_official(path: "str | Path", space: "SearchSpace | str | None" = None):
    """Build an :class:`~ofa.nn.supernet.OFASupernet` holding an official checkpoint's weights."""
    return import_official_state(read_checkpoint(path), space)


def import_official_state(state: dict[str, torch.Tensor], space: "SearchSpace | str | None" = None):
    """:func:`import_official` of a checkpoint already read."""
    from ofa.nn.supernet import OFASupernet

    space = get_space(space) if space is not None else infer_space(state)
    converted, num_classes = convert_state_dict(state, space)
    net = OFASupernet(space, num_classes)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise ArtifactError(f"checkpoint lacks {len(missing)} tensor(s) of space {space.id}, e.g. {missing[:3]}; "
                            "is --space right?")
    wrong = [f"{k}: checkpoint {tuple(v.shape)} vs space {tuple(expected[k].shape)}"
             for k, v in converted.items() if k in expected and v.shape != expected[k].shape]
    if wrong:
        raise ArtifactError(f"checkpoint shapes do not fit space {space.id}: {wrong[:3]}; pass the right --space")
    net.load_state_dict(converted, strict=True)
    log.info("imported %d tensors into %s (%d classes)", len(converted), space.id, num_classes)
    return net.eval()


def config_from_official(space: "SearchSpace | str", ks, e, d, r: int):
    """Our :class:`~ofa.subnet.SubnetConfig` of an official ``set_active_subnet(ks, e, d)`` selection.

    Official ``ks``/``e`` have one entry per supernet block after the first (MobileNetV3: 20; ProxylessNAS:
    21, the last stage's single block included); ours have ``max_depth`` slots per stage, so entries go to
    the slots that exist and the rest (ProxylessNAS's slots 22-24) get the smallest choice. Official ``d``
    has one entry per stage; the last ProxylessNAS stage's entry is clamped to 1 by the official supernet
    (its sampler writes 1), and here becomes the smallest ``d`` choice, which ours clamps the same way.
    """
    from ofa.subnet import SubnetConfig

    space = get_space(space)
    existing = [slot for slot in range(space.n_block_slots) if space.slot_exists(slot)]
    if len(ks) != len(existing) or len(e) != len(existing) or len(d) != space.n_stages:
        raise ConfigError(f"official selection for {space.id} needs {len(existing)} ks/e entries and {space.n_stages} "
                          f"d entries, got {len(ks)}/{len(e)}/{len(d)}")
    our_ks, our_e = [min(space.ks_choices)] * space.n_block_slots, [min(space.e_choices)] * space.n_block_slots
    for slot, k, x in zip(existing, ks, e):
        our_ks[slot], our_e[slot] = int(k), int(x)
    depths = [int(v) if int(v) in space.d_choices else
              next(c for c in space.d_choices if space.effective_depth(s, c) == min(int(v), space.depth_caps[s]))
              for s, v in enumerate(d)]
    return SubnetConfig.from_dict({"space": space.id, "ks": our_ks, "e": our_e, "d": depths, "r": r}, space)
