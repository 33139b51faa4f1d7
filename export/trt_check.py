"""TensorRT readiness of an ONNX file, checked without TensorRT.

What can be checked here: static input/output shapes, the opset against TensorRT's supported
range, every op type against TensorRT's published ONNX operator list (``data/tensorrt_onnx_ops.json``,
with its source and TensorRT version), QDQ zero points (TensorRT needs 0), and ``polygraphy check
lint`` when polygraphy is installed. A real engine build is the final word.
"""

from __future__ import annotations

import collections
import json
import logging
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
OPS_FILE = Path(__file__).with_name("data") / "tensorrt_onnx_ops.json"


@lru_cache(maxsize=1)
def tensorrt_op_list() -> dict:
    """The embedded TensorRT ONNX operator support list (with ``source`` and TensorRT version)."""
    return json.loads(OPS_FILE.read_text())


def check_tensorrt_ready(path: "str | Path", polygraphy_timeout_s: int = 120) -> dict:
    """Readiness report of ONNX ``path``: ``ok`` plus every problem found, op counts and sources."""
    import onnx

    proto = onnx.load(str(path))
    ops = tensorrt_op_list()
    counts = collections.Counter(_op_id(node) for node in _all_nodes(proto.graph))
    supported, unsupported = set(ops["supported"]), set(ops["unsupported"])
    report = {
        "opset": _opset(proto),
        "opset_range": [ops["opset_range"]["min"], ops["opset_range"]["max"]],
        "op_counts": dict(sorted(counts.items())),
        "unsupported_ops": sorted(op for op in counts if op in unsupported),
        "unknown_ops": sorted(op for op in counts if op not in supported and op not in unsupported),
        "dynamic_dims": _dynamic_dims(proto.graph),
        "nonzero_zero_points": _nonzero_zero_points(proto.graph),
        "op_list_source": ops["source"],
        "op_list_tensorrt_version": ops["list_tensorrt_version"],
        "polygraphy": polygraphy_lint(path, polygraphy_timeout_s),
    }
    report["problems"] = _problems(report)
    report["ok"] = not report["problems"]
    return report


def _problems(r: dict) -> list[str]:
    problems = []
    low, high = r["opset_range"]
    if r["opset"] is None or not low <= r["opset"] <= high:
        problems.append(f"opset {r['opset']} is outside TensorRT's supported range {low}-{high}: re-export with --opset in range")
    for op in r["unsupported_ops"]:
        problems.append(f"op {op} ({r['op_counts'][op]}x) is listed unsupported by TensorRT {r['op_list_tensorrt_version']}")
    for op in r["unknown_ops"]:
        problems.append(f"op {op} ({r['op_counts'][op]}x) is not in TensorRT's ONNX operator list")
    for where in r["dynamic_dims"]:
        problems.append(f"dynamic dimension {where}: export a static shape, or build with an optimisation "
                        "profile (trtexec --minShapes/--optShapes/--maxShapes)")
    for node in r["nonzero_zero_points"]:
        problems.append(f"{node} has a non-zero zero point; TensorRT needs symmetric (zero-point 0) quantisation")
    lint = r["polygraphy"]
    if lint.get("status") == "failed":
        problems.append(f"polygraphy lint: {lint.get('summary')}")
    return problems


def _all_nodes(graph):
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _all_nodes(sub)


def _op_id(node) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"


def _opset(proto) -> int | None:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


def _dynamic_dims(graph) -> list[str]:
    found = []
    for value in list(graph.input) + list(graph.output):
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if not dim.HasField("dim_value") or dim.dim_value <= 0:
                found.append(f"{value.name}[{axis}]={dim.dim_param or '?'}")
    return found


def _nonzero_zero_points(graph) -> list[str]:
    from onnx import numpy_helper

    inits = {init.name: init for init in graph.initializer}
    bad = []
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2 and node.input[2] in inits:
            if np.any(numpy_helper.to_array(inits[node.input[2]]) != 0):
                bad.append(f"{node.op_type} {node.name or node.output[0]}")
    return bad


def polygraphy_lint(path: "str | Path", timeout_s: int = 120) -> dict:
    """Run ``polygraphy check lint`` when installed; ``status`` is passed/failed/skipped."""
    exe = shutil.which("polygraphy")
    if exe is None:
        return {"status": "skipped", "reason": "polygraphy is not installed (pip install polygraphy)"}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "lint.json"
        try:
            proc = subprocess.run([exe, "check", "lint", str(path), "-o", str(out)], capture_output=True,
                                  text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return {"status": "skipped", "reason": f"polygraphy lint timed out after {timeout_s} s"}
        summary = json.loads(out.read_text()).get("summary") if out.is_file() else proc.stderr[-500:]
    return {"status": "passed" if proc.returncode == 0 else "failed", "summary": summary}
