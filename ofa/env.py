"""Versions and hardware facts a bug report (``ofa env``) and every zoo card need."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "hardware", "processor\t: ")) and ":" in line:
                    value = line.split(":", 1)[1].strip()
                    if value and not value.isdigit():
                        return value
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment() -> dict[str, str]:
    import torch

    from ofa.version import __version__

    litert = _version("ai-edge-litert")
    if litert == "not installed" and _version("tflite-runtime") != "not installed":
        litert = f"tflite-runtime {_version('tflite-runtime')}"
    return {
        "ofa-deploy": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "onnx": _version("onnx"),
        "onnxruntime": _version("onnxruntime"),
        "litert (ai-edge-litert)": litert,
        "litert-torch": _version("litert-torch"),
        "tensorrt": _version("tensorrt"),
        "openvino": _version("openvino"),
        "nncf (openvino int8)": _version("nncf"),
        "executorch": _version("executorch"),
        "coremltools": _version("coremltools"),
        "cuda available": str(torch.cuda.is_available()),
        "cpu": cpu_model(),
        "cpu cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
    }
