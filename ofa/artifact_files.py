"""The files of a model artifact (see :mod:`ofa.artifacts` for the layout): model info, weights and manifest
writing, and the verified reads (manifest header, file sha256, tensor names and shapes, strict load).

Shared by every model family's artifacts (:mod:`ofa.artifacts` for the :class:`~ofa.spaces.SearchSpace`
supernets, :mod:`ofa.resnet_artifacts` for OFA-ResNet), so none of them imports another.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ofa.errors import ArtifactError
from ofa.io import atomic_write, atomic_write_json, read_json_file, sha256_file
from ofa.manifest import ManifestHeader
from ofa.version import __version__

log = logging.getLogger("ofa.artifacts")  # the logger name of these messages before the split
SCHEMA_VERSION = 1
HEADERS = {kind: ManifestHeader(kind, SCHEMA_VERSION) for kind in ("supernet", "subnet")}
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
        """Raises ``ValueError``/``TypeError``/``KeyError`` for a missing or out-of-range field."""
        norm = manifest.get("normalization") or {}
        info = cls(num_classes=int(manifest["num_classes"]), mean=tuple(norm.get("mean", IMAGENET_MEAN)),
                   std=tuple(norm.get("std", IMAGENET_STD)), labels=manifest.get("labels"),
                   dropout=float(manifest.get("dropout", 0.0)), config=manifest.get("config") or {},
                   inputs=manifest.get("inputs") or {})
        if not 1 <= info.num_classes <= 10**6:
            raise ValueError(f"num_classes must be 1..1000000, got {info.num_classes}")
        if not 0.0 <= info.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {info.dropout}")
        if len(info.mean) != 3 or len(info.std) != 3 or not all(0 < float(s) < 1e3 for s in info.std):
            raise ValueError(f"normalization must hold 3 means and 3 positive stds, got {norm}")
        return info


# ----- writing --------------------------------------------------------------------------------
def save_weights(module: nn.Module | dict, path: Path) -> str:
    from safetensors.torch import save_file

    state = module.state_dict() if isinstance(module, nn.Module) else module
    state = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt", "tool_version": __version__}))
    return sha256_file(path)


def write_manifest(out: Path, kind: str, space, info: ModelInfo, files: dict[str, str], extra: dict) -> dict:
    manifest = {
        **HEADERS[kind].fields(),
        "torch_version": torch.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "space": space.model_dump(mode="json"),
        **info.to_dict(),
        **extra,
        "files": files,
    }
    atomic_write_json(out / MANIFEST, manifest)
    return manifest


# ----- reading --------------------------------------------------------------------------------
def read_manifest(path: "str | Path", kind: str | None = None) -> dict:
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path} does not exist")
    if not (path / MANIFEST).is_file():
        raise ArtifactError(f"{path} has no {MANIFEST}: not an artifact directory, or an interrupted write "
                            "(re-run the command that makes it)")
    manifest = read_json_file(path / MANIFEST, "manifest", ArtifactError)
    found = manifest.get("kind") if isinstance(manifest, dict) else None
    header = HEADERS[kind] if kind else HEADERS.get(found, HEADERS["supernet"])  # no kind asked: either model kind
    return header.check(manifest, path / MANIFEST, "re-create the artifact with the command that made it")


def space_and_info(path: Path, manifest: dict, parse_space, what: str = "space") -> tuple[Any, ModelInfo]:
    """The space (``parse_space(manifest["space"])``) and model info a manifest describes; an edited, invalid
    manifest is an ArtifactError."""
    from ofa.errors import ConfigError

    try:
        return parse_space(manifest["space"]), ModelInfo.from_manifest(manifest)
    except ConfigError as exc:
        raise ArtifactError(f"{path / MANIFEST} describes an invalid {what}: {exc}. Restore the manifest, or "
                            "re-create the artifact") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path / MANIFEST} lacks or has an invalid field ({type(exc).__name__}: {exc}); "
                            "restore the manifest, or re-create the artifact") from None


def read_verified(path: Path, manifest: dict, name: str) -> bytes:
    """The bytes of ``path/name``, checked against the sha256 the manifest records (one read, one hash)."""
    file = path / name
    if not file.is_file():
        raise ArtifactError(f"{path} has no {name}; the artifact is incomplete: re-create it with the command "
                            "that made it")
    data = file.read_bytes()
    recorded = (manifest.get("files") or {}).get(name)
    if not recorded:
        log.warning("%s records no sha256 for %s (written by an older version): its content cannot be verified; "
                    "re-save the artifact to record one", path / MANIFEST, name)
        return data
    actual = hashlib.sha256(data).hexdigest()
    if actual != recorded:
        raise ArtifactError(f"{file} has sha256 {actual[:16]}..., but {path / MANIFEST} records {recorded[:16]}...: "
                            "the file was replaced or damaged after it was saved. Restore the original file, or "
                            "re-create the artifact with the command that made it (see the manifest's config)")
    return data


def shape_mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> list[str]:
    """What differs between two state dicts: missing and unexpected names, then differing shapes."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [f"{k}: file {tuple(found[k].shape)} vs manifest {tuple(expected[k].shape)}"
              for k in expected if k in found and found[k].shape != expected[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s), e.g. {missing[:3]}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s), e.g. {unexpected[:3]}")
    if shapes:
        problems.append(f"{len(shapes)} shape(s) differ, e.g. {shapes[:3]}")
    return problems


def mismatch_error(file: Path, manifest: dict, problems: list[str], found: dict) -> ArtifactError:
    head = found.get("classifier.weight", found.get("classifier.linear.weight"))  # MBv3/ProxylessNAS, ResNet
    classes = manifest.get("num_classes")
    hint = ""
    if head is not None and head.dim() and int(head.shape[0]) != classes:
        hint = f" The weights have {int(head.shape[0])} classes; the manifest says num_classes={classes}."
    return ArtifactError(f"{file} does not match the architecture in {file.parent / MANIFEST} (space "
                         f"{manifest['space'].get('id')}, {classes} classes): {'; '.join(problems)}.{hint} "
                         "If the manifest was edited, restore it; otherwise the weights belong to another "
                         "artifact: re-create this one with the command that made it")


def load_weights(path: Path, module: nn.Module, manifest: dict) -> None:
    """Load ``path/weights.safetensors`` into ``module``: hash checked, names and shapes checked, strict."""
    from safetensors.torch import load as load_bytes

    file = path / WEIGHTS
    data = read_verified(path, manifest, WEIGHTS)
    try:
        state = load_bytes(data)
    except Exception as exc:  # safetensors raises its own error types for truncated/corrupt files
        raise ArtifactError(f"{file} is unreadable ({exc}); the file is corrupt or truncated") from None
    problems = shape_mismatch(module.state_dict(), state)
    if problems:
        raise mismatch_error(file, manifest, problems, state)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # e.g. a dtype the module cannot take
        raise mismatch_error(file, manifest, [str(exc).splitlines()[0]], state) from None
