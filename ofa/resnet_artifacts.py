"""OFA-ResNet supernet and sub-network artifacts: the same directory layout and checks as
:mod:`ofa.artifacts` (safetensors weights, manifest with the :class:`~ofa.manifest.ManifestHeader`,
file hashes, names and shapes checked against the manifest's architecture, strict load).

The manifest adds ``"family": "resnet"`` and its ``space`` is a :class:`~ofa.spaces.resnet.ResNetSpace`
(``subnet`` a :class:`~ofa.spaces.resnet.ResNetConfig`, the official ``d``/``e``/``w`` selection).
:func:`ofa.artifacts.load_supernet` and :func:`~ofa.artifacts.load_subnet` hand such a directory here,
so ``ofa extract``, ``ofa export``, ``ofa verify``, ``ofa acc build`` and ``ofa search`` take it like an MBv3 one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from ofa.artifact_files import (
    MANIFEST,
    SUBNET_JSON,
    WEIGHTS,
    ModelInfo,
    load_weights,
    save_weights,
    space_and_info,
    write_manifest,
)
from ofa.errors import ArtifactError, ConfigError
from ofa.io import atomic_write_json, read_json_file, sha256_file
from ofa.spaces.resnet import OFA_RESNET50, ResNetConfig, ResNetSpace

FAMILY = "resnet"
RESNET_SPACES = {OFA_RESNET50.id: OFA_RESNET50}
_SPACE_FIX = ("pass --space ofa_resnet50, or a JSON/YAML file with the ResNetSpace fields (id, w_choices, "
              "e_choices, d_choices, resolutions, ...) of the checkpoint")


def resnet_space(spec: "str | Path | dict | ResNetSpace | None") -> ResNetSpace:
    """A ResNet space from its id (default ``ofa_resnet50``), a definition dict, or a JSON/YAML file."""
    if spec is None:
        return OFA_RESNET50
    if isinstance(spec, ResNetSpace):
        return spec
    if isinstance(spec, dict):
        return _validate_space(spec, "the ResNet space definition")
    text = str(spec)
    if text in RESNET_SPACES:
        return RESNET_SPACES[text]
    path = Path(text)
    if path.suffix not in {".json", ".yaml", ".yml"}:
        raise ConfigError(f"{text!r} is not a ResNet space: known ids {sorted(RESNET_SPACES)}; {_SPACE_FIX}")
    from ofa.io import read_yaml_file

    return _validate_space(read_yaml_file(path, "ResNet space file", fix=_SPACE_FIX), f"ResNet space file {path}")


def _validate_space(data: dict, where: str) -> ResNetSpace:
    try:
        return ResNetSpace.model_validate(data)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise ConfigError(f"{where} is invalid ({errors}); {_SPACE_FIX}") from None


def read_resnet_config(source: "str | Path | dict | ResNetConfig", space: ResNetSpace) -> ResNetConfig:
    """A validated sub-network config (official ``d``/``e``/``w`` lists and ``r``) from a JSON file or dict."""
    if isinstance(source, ResNetConfig):
        return source.validate(space)
    data = source if isinstance(source, dict) else read_json_file(
        source, "ResNet sub-network config", ConfigError,
        fix='write {"d": [5 ints], "e": [18 floats], "w": [6 ints], "r": int} (the official selection)')
    if not isinstance(data, dict):
        raise ConfigError(f"a ResNet sub-network config is a JSON object with d, e, w and r; got {type(data).__name__}")
    named = data.get("space")
    if named is not None and named != space.id:
        raise ConfigError(f"the config is for space {named!r}, but the supernet is {space.id!r}; drop 'space' or fix it")
    return ResNetConfig.from_dict(data, space)


def config_summary(cfg: ResNetConfig) -> str:
    """One line naming a ResNet sub-network (the official selection)."""
    return f"d={list(cfg.d)} e={list(cfg.e)} w={list(cfg.w)} r={cfg.r}"


# ----- writing --------------------------------------------------------------------------------------------
def save_resnet_supernet(net, out: "str | Path", info: ModelInfo) -> Path:
    """Write an OFA-ResNet supernet artifact (weights, then manifest) to directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {WEIGHTS: save_weights(net, out / WEIGHTS)}
    write_manifest(out, "supernet", net.space, info, files, {"family": FAMILY})
    return out


def save_resnet_subnet(net, out: "str | Path", info: ModelInfo, extra: dict | None = None) -> Path:
    """Write a static OFA-ResNet sub-network artifact (weights, config, manifest) to directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / SUBNET_JSON, net.config.to_dict())
    files = {WEIGHTS: save_weights(net, out / WEIGHTS), SUBNET_JSON: sha256_file(out / SUBNET_JSON)}
    write_manifest(out, "subnet", net.space, info, files,
                    {"family": FAMILY, "subnet": net.config.to_dict(), **(extra or {})})
    return out


# ----- reading (called by ofa.artifacts once it has read and header-checked the manifest) ----------------
def _space_and_info(path: Path, manifest: dict) -> tuple[ResNetSpace, ModelInfo]:
    return space_and_info(path, manifest, resnet_space, "ResNet space")


def load_resnet_supernet(path: Path, manifest: dict):
    """An :class:`~ofa.nn.resnet.OFAResNet` (eval mode, ``.info`` set) from a verified supernet directory."""
    from ofa.nn.resnet import OFAResNet

    space, info = _space_and_info(path, manifest)
    net = OFAResNet(space, info.num_classes, info.dropout)
    load_weights(path, net, manifest)
    net.info = info
    return net.eval()


def load_resnet_subnet(path: Path, manifest: dict, subnet=None):
    """A static ResNet (eval mode) from a sub-network directory, or a supernet directory + ``subnet``."""
    from ofa.nn.resnet import StaticResNet

    space, info = _space_and_info(path, manifest)
    if manifest["kind"] == "supernet":
        if subnet is None:
            raise ConfigError(f"{path} is a supernet: pass the sub-network config to extract (subnet=... / --subnet)")
        net = load_resnet_supernet(path, manifest).extract(read_resnet_config(subnet, space))
    else:
        try:
            cfg = ResNetConfig.from_dict(manifest["subnet"], space)
        except (ConfigError, KeyError, TypeError) as exc:
            raise ArtifactError(f"{path / MANIFEST} holds an invalid ResNet sub-network config ({exc}); restore the "
                                "manifest, or re-create the artifact") from None
        if subnet is not None and read_resnet_config(subnet, space) != cfg:
            raise ConfigError(f"{path} holds sub-network {config_summary(cfg)}, not the one passed")
        net = StaticResNet(space, cfg, info.num_classes, info.dropout)
        load_weights(path, net, manifest)
    net.info = info
    return net.eval()
