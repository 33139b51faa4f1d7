"""Devices: where latency is measured.

A device = a transport (how to reach it: local process, SSH, ADB) + a runner (what measures there:
onnxruntime, LiteRT, PyTorch, TFLite ``benchmark_model``, ``trtexec``) + the runner's parser.
Devices are declared in YAML (see ``docs/devices_and_latency.md``) and loaded with :func:`get_device`.
"""

from devices.catalog import get_device, list_devices, load_device_file
from devices.spec import DeviceSpec, RunnerSpec, TransportSpec

__all__ = ["DeviceSpec", "RunnerSpec", "TransportSpec", "get_device", "list_devices", "load_device_file"]
