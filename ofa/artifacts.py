"""Supernet and sub-network artifacts on disk: safetensors weights + a JSON manifest.

Layout of both kinds of directory::

    weights.safetensors   tensors only, no pickle
    manifest.json         schema/tool versions, the full space definition, classes, normalisation,
                          labels, the resolved config that made it, input hashes, file hashes
    subnet.json           (sub-networks only) the sub-network config

The manifest is written last, atomically: a directory without one is incomplete.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ofa import __version__
from ofa.errors import ArtifactError, ConfigError
from ofa.io import atomic_write, atomic_write_json, sha256_file
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

SCHEMA_VERSION = 1
WEIGHTS = "weights.safetensors"
MANIFEST = "manifest.json"
SUBNET_JSON = "subnet.json"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class ModelInfo:
    """What a model needs besides weights: classes, input normalisation, labels, provenance."""

    num_classes: int
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    labels: list[str] | None = None
    dropout: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)  # resolved config that made it
    inputs: dict[str, Any] = field(default_factory=dict)  # name -> {"path", "sha256"}

    def to_dict(self) -> dict:
        return {"num_classes": self.num_classes, "normalization": {"mean": list(self.mean), "std": list(self.std)},
                "labels": self.labels, "dropout": self.dropout, "config": self.config, "inputs": self.inputs}

    @classmethod
    def from_manifest(cls, manifest: dict) -> "ModelInfo":
        norm = manifest.get("normalization") or {}
        return cls(num_classes=int(manifest["num_classes"]), mean=tuple(norm.get("mean", IMAGENET_MEAN)),
                   std=tuple(norm.get("std", IMAGENET_STD)), labels=manifest.get("labels"),
                   dropout=float(manifest.get("dropout", 0.0)), config=manifest.get("config") or {},
                   inputs=manifest.get("inputs") or {})


# ----- writing --------------------------------------------------------------------------------
def _save_weights(module: nn.Module | dict, path: Path) -> str:
    from safetensors.torch import save_file

    state = module.state_dict() if isinstance(module, nn.Module) else module
    state = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt", "tool_version": __version__}))
    return sha256_file(path)


def _write_manifest(out: Path, kind: str, space: SearchSpace, info: ModelInfo, files: dict[str, str], extra: dict) -> dict:
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "tool": "ofa-deploy",
        "tool_version": __version__,
        "torch_version": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "space": space.model_dump(mode="json"),
        **info.to_dict(),
        **extra,
        "files": files,
    }
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


def save_supernet(net, out: "str | Path", info: ModelInfo) -> Path:
    """Write a supernet artifact (weights, then manifest) to directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {WEIGHTS: _save_weights(net, out / WEIGHTS)}
    _write_manifest(out, "supernet", net.space, info, files, {})
    return out


def save_subnet(net, out: "str | Path", info: ModelInfo, extra: dict | None = None) -> Path:
    """Write a static sub-network artifact (weights, config, manifest) to directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    net.config.save(out / SUBNET_JSON)
    files = {WEIGHTS: _save_weights(net, out / WEIGHTS), SUBNET_JSON: sha256_file(out / SUBNET_JSON)}
    _write_manifest(out, "subnet", net.space, info, files, {"subnet": net.config.to_dict(), **(extra or {})})
    return out


# ----- reading --------------------------------------------------------------------------------
def read_manifest(path: "str | Path", kind: str | None = None) -> dict:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path} does not exist")
    if not (path / MANIFEST).is_file():
        raise ArtifactError(f"{path} has no {MANIFEST}: not an artifact directory, or an interrupted write (re-run the command that makes it)")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path / MANIFEST} is not valid JSON: {exc}") from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise ArtifactError(f"{path} has schema version {manifest.get('schema_version')}, this tool reads {SCHEMA_VERSION}")
    if kind and manifest.get("kind") != kind:
        raise ArtifactError(f"{path} holds a {manifest.get('kind')!r} artifact, expected a {kind!r} (see its manifest.json)")
    return manifest


def _load_weights(path: Path, module: nn.Module) -> None:
    from safetensors.torch import load_file

    file = path / WEIGHTS
    if not file.is_file():
        raise ArtifactError(f"{path} has no {WEIGHTS}")
    try:
        state = load_file(str(file))
    except Exception as exc:  # safetensors raises its own error types for truncated/corrupt files
        raise ArtifactError(f"{file} is unreadable ({exc}); the file is corrupt or truncated") from None
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ArtifactError(f"{file} does not match its manifest's architecture: missing {result.missing_keys[:5]}, "
                            f"unexpected {result.unexpected_keys[:5]}")


def load_supernet(path: "str | Path"):
    """Load a supernet directory; returns an :class:`~ofa.nn.supernet.OFASupernet` with ``.info``."""
    from ofa.nn.supernet import OFASupernet

    path = Path(path)
    manifest = read_manifest(path, "supernet")
    space = SearchSpace.from_dict(manifest["space"])
    info = ModelInfo.from_manifest(manifest)
    net = OFASupernet(space, info.num_classes, info.dropout)
    _load_weights(path, net)
    net.info = info
    return net.eval()


def _as_config(subnet, space: SearchSpace) -> SubnetConfig:
    if isinstance(subnet, SubnetConfig):
        subnet.validate(space)
        return subnet
    if isinstance(subnet, dict):
        return SubnetConfig.from_dict(subnet, space)
    return SubnetConfig.load(subnet, space)


def load_subnet(path: "str | Path", subnet=None):
    """A ready static sub-network (eval mode) from a sub-network dir, or a supernet dir + ``subnet``."""
    from ofa.nn.static import StaticSubnet

    path = Path(path)
    manifest = read_manifest(path)
    space = SearchSpace.from_dict(manifest["space"])
    info = ModelInfo.from_manifest(manifest)
    if manifest["kind"] == "supernet":
        if subnet is None:
            raise ConfigError(f"{path} is a supernet: pass the sub-network config to extract (subnet=... / --subnet)")
        net = load_supernet(path).extract(_as_config(subnet, space))
    elif manifest["kind"] == "subnet":
        cfg = SubnetConfig.from_dict(manifest["subnet"], space)
        if subnet is not None and _as_config(subnet, space) != cfg:
            raise ConfigError(f"{path} holds sub-network {cfg.to_json()}, not the one passed")
        net = StaticSubnet(space, cfg, info.num_classes, info.dropout)
        _load_weights(path, net)
    else:
        raise ArtifactError(f"{path} holds a {manifest['kind']!r} artifact; expected a supernet or subnet directory")
    net.info = info
    return net.eval()
