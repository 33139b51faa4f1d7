"""Runners: what measures on the device, and how its output is read.

``onnxruntime``, ``litert`` and ``pytorch`` push :mod:`devices.timing_payload` and read its JSON lines;
``benchmark_model`` (TFLite, Android) and ``trtexec`` (TensorRT, Jetson) run the vendor tool once per
model and parse its text output. New runners register themselves in :data:`RUNNERS`.
"""

from devices.runners import benchmark_model, script, trtexec  # noqa: F401  (registration)
from devices.runners.base import RUNNERS, MeasureJob, Runner, make_runner

__all__ = ["MeasureJob", "RUNNERS", "Runner", "make_runner"]
