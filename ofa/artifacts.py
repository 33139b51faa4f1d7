"""Supernet and sub-network artifacts on disk: safetensors weights + a JSON manifest.

Layout of both kinds of directory::

    weights.safetensors   tensors only, no pickle
    manifest.json         schema/tool versions, the full space definition, classes, normalisation,
                          labels, the resolved config that made it, input hashes, file hashes
    subnet.json           (sub-networks only) the sub-network config

The manifest is written last, atomically: a directory without one is incomplete.

Loading verifies what it reads: the weights file's sha256 against the one the manifest records
(one read of the file, hashed and parsed from the same bytes), and every tensor's name and shape
against the architecture the manifest describes (then ``strict=True``). A mismatch is an
:class:`~ofa.errors.ArtifactError` naming the file, what differs and the fix.
"""


from __future__ import annotations

from pathlib import Path

# the file-level pieces live in ofa.artifact_files (shared with ofa.resnet_artifacts); re-exported here
from ofa.artifact_files import (  # noqa: F401
    HEADERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MANIFEST,
    SCHEMA_VERSION,
    SUBNET_JSON,
    WEIGHTS,
    ModelInfo,
    load_weights,
    read_manifest,
    read_verified,
    save_weights,
    shape_mismatch,
    space_and_info,
    write_manifest,
)
from ofa.errors import ArtifactError, ConfigError
from ofa.io import sha256_file
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig


def save_supernet(net, out: "str | Path", info: ModelInfo) -> Path:
    """Write a supernet artifact (weights, then manifest) to directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {WEIGHTS: save_weights(net, out / WEIGHTS)}
    write_manifest(out, "supernet", net.space, info, files, {})
    return out


def save_subnet(net, out: "str | Path", info: ModelInfo, extra: dict | None = None) -> Path:
    """Write a static sub-network artifact (weights, config, manifest) to directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    net.config.save(out / SUBNET_JSON)
    files = {WEIGHTS: save_weights(net, out / WEIGHTS), SUBNET_JSON: sha256_file(out / SUBNET_JSON)}
    write_manifest(out, "subnet", net.space, info, files, {"subnet": net.config.to_dict(), **(extra or {})})
    return out


def _space_and_info(path: Path, manifest: dict) -> tuple[SearchSpace, ModelInfo]:
    return space_and_info(path, manifest, SearchSpace.from_dict)


def refuse_resnet(path: Path, manifest: dict) -> dict:
    """``manifest`` unless it is an OFA-ResNet supernet's, which proxy tables and the zoo cannot take yet."""
    if manifest.get("family") == "resnet":
        raise ConfigError(f"{path} is an OFA-ResNet supernet: `ofa train --init`, `ofa extract`, `ofa export`, "
                          "`ofa verify`, `ofa lut build --space`, `ofa acc build` and `ofa search` (evolution) take it, "
                          "but zero-cost proxy tables and the zoo take MobileNetV3/ProxylessNAS supernets only "
                          "(docs/official_spaces.md)")
    return manifest


def load_supernet(path: "str | Path", search_space_only: bool = False):
    """Load a supernet directory; returns an :class:`~ofa.nn.supernet.OFASupernet` with ``.info`` (or an
    :class:`~ofa.nn.resnet.OFAResNet` for an OFA-ResNet one, which ``search_space_only`` refuses)."""
    from ofa.nn.supernet import OFASupernet

    path = Path(path)
    manifest = read_manifest(path, "supernet")
    if manifest.get("family") == "resnet":  # an OFA-ResNet supernet (ofa.resnet_artifacts)
        from ofa.resnet_artifacts import load_resnet_supernet

        if search_space_only:
            refuse_resnet(path, manifest)

        return load_resnet_supernet(path, manifest)
    space, info = _space_and_info(path, manifest)
    net = OFASupernet(space, info.num_classes, info.dropout)
    load_weights(path, net, manifest)
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
    if manifest.get("family") == "resnet":  # an OFA-ResNet artifact (ofa.resnet_artifacts)
        from ofa.resnet_artifacts import load_resnet_subnet

        return load_resnet_subnet(path, manifest, subnet)
    space, info = _space_and_info(path, manifest)
    if manifest["kind"] == "supernet":
        if subnet is None:
            raise ConfigError(f"{path} is a supernet: pass the sub-network config to extract (subnet=... / --subnet)")
        net = load_supernet(path).extract(_as_config(subnet, space))
    elif manifest["kind"] == "subnet":
        cfg = SubnetConfig.from_dict(manifest["subnet"], space)
        if subnet is not None and _as_config(subnet, space) != cfg:
            raise ConfigError(f"{path} holds sub-network {cfg.to_json()}, not the one passed")
        net = StaticSubnet(space, cfg, info.num_classes, info.dropout)
        load_weights(path, net, manifest)
    else:
        raise ArtifactError(f"{path} holds a {manifest['kind']!r} artifact; expected a supernet or subnet directory")
    net.info = info
    return net.eval()


def verify_model(path: "str | Path") -> list[str]:
    """Check a supernet or sub-network directory: every file hash its manifest records, then a full load
    (tensor names and shapes against the manifest's architecture). Returns what was checked."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("kind") not in ("supernet", "subnet"):
        raise ArtifactError(f"{path} holds a {manifest.get('kind')!r} artifact; expected a supernet or subnet "
                            "directory")
    recorded = manifest.get("files") or {}
    for name in recorded:
        if name != WEIGHTS:  # the load below reads and checks the weights
            read_verified(path, manifest, name)
    net = load_supernet(path) if manifest["kind"] == "supernet" else load_subnet(path)
    hashed = sorted(recorded) + ([] if WEIGHTS in recorded else [f"{WEIGHTS} NOT VERIFIED (no hash recorded)"])
    return [f"sha256: {', '.join(hashed)}", f"{len(net.state_dict())} tensors match {net.space.id} with "
            f"{net.info.num_classes} classes (strict load)"]
