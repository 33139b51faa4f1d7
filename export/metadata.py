"""Sub-network metadata that travels inside every exported file (and how to read it back).

ONNX keeps it in ``metadata_props`` (one ``ofa.<key>`` entry per field, JSON-encoded values);
TFLite keeps it in the flatbuffer's ``metadata`` list under the name ``ofa_metadata`` (JSON).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from ofa.errors import ArtifactError
from ofa.version import __version__

ONNX_PREFIX = "ofa."
TFLITE_NAME = "ofa_metadata"
METADATA_SCHEMA = 1


def model_metadata(model: nn.Module, precision: str = "fp32", layout: str = "NCHW") -> dict[str, Any]:
    """Space id, sub-network config, resolution, normalisation and labels of a static sub-network."""
    info = getattr(model, "info", None)
    config = getattr(model, "config", None)
    space = getattr(model, "space", None)
    resolution = config.r if config is not None else None
    num_classes = info.num_classes if info is not None else getattr(model, "num_classes", None)
    return {
        "schema_version": METADATA_SCHEMA,
        "tool": "ofa-deploy",
        "tool_version": __version__,
        "space": space.id if space is not None else None,
        "subnet": config.to_dict() if config is not None else None,
        "resolution": resolution,
        "input_layout": layout,
        "input_shape": [1, 3, resolution, resolution] if layout == "NCHW" else [1, resolution, resolution, 3],
        "mean": list(info.mean) if info is not None else None,
        "std": list(info.std) if info is not None else None,
        "labels": list(info.labels) if info is not None and info.labels else None,
        "num_classes": num_classes,
        "precision": precision,
    }


# ----- ONNX ------------------------------------------------------------------------------------
def to_onnx_props(meta: dict[str, Any]) -> dict[str, str]:
    return {ONNX_PREFIX + key: json.dumps(value) for key, value in meta.items()}


def set_onnx_metadata(proto, meta: dict[str, Any]) -> None:
    """Replace the ``ofa.*`` entries of an ONNX ModelProto's ``metadata_props`` with ``meta``."""
    keep = [(p.key, p.value) for p in proto.metadata_props if not p.key.startswith(ONNX_PREFIX)]
    del proto.metadata_props[:]
    for key, value in keep + list(to_onnx_props(meta).items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def read_onnx_metadata(path: "str | Path") -> dict[str, Any]:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    meta = {p.key[len(ONNX_PREFIX):]: json.loads(p.value) for p in proto.metadata_props if p.key.startswith(ONNX_PREFIX)}
    if not meta:
        raise ArtifactError(f"{path} carries no ofa metadata (metadata_props 'ofa.*'); was it exported by `ofa export`?")
    return meta


# ----- TFLite ----------------------------------------------------------------------------------
def embed_tflite_metadata(content: bytes, meta: dict[str, Any]) -> bytes:
    """Return the flatbuffer ``content`` with ``meta`` stored as metadata entry ``ofa_metadata``."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    entries = [m for m in (model.metadata or []) if _name(m.name) != TFLITE_NAME]
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = TFLITE_NAME, len(model.buffers) - 1
    model.metadata = entries + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read_tflite_metadata(path_or_bytes: "str | Path | bytes") -> dict[str, Any]:
    from ai_edge_litert import schema_py_generated as schema

    data = path_or_bytes if isinstance(path_or_bytes, (bytes, bytearray)) else Path(path_or_bytes).read_bytes()
    model = schema.Model.GetRootAs(data, 0)
    for i in range(model.MetadataLength()):
        entry = model.Metadata(i)
        if _name(entry.Name()) == TFLITE_NAME:
            return json.loads(model.Buffers(entry.Buffer()).DataAsNumpy().tobytes())
    raise ArtifactError(f"{path_or_bytes if not isinstance(path_or_bytes, (bytes, bytearray)) else 'model'} carries no "
                        f"'{TFLITE_NAME}' metadata entry; was it exported by `ofa export`?")


def _name(value: "str | bytes | None") -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")
