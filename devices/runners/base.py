"""The runner interface: build the measurement command for a model, and read its result."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from devices.parsers import Timing
from devices.spec import RunnerSpec
from devices.transports.base import Transport
from ofa.errors import ConfigError
from ofa.registry import Registry


@dataclass(frozen=True)
class MeasureJob:
    """One model to time: its local file, the input shape to feed, and (optionally) the input's name."""

    id: str
    model: Path
    input_shape: tuple[int, ...]
    input_name: Optional[str] = None


class Runner(ABC):
    """Measures models on a device through a transport."""

    kind = "abstract"
    model_format = "onnx"  # what micro-models must be built as: onnx | tflite | pt2
    layout = "nchw"  # input layout the models take
    precisions: tuple[str, ...] = ("fp32",)
    supports_anchor = False  # can time a drift anchor between rounds of each model (script runners)

    def __init__(self, spec: RunnerSpec):
        if spec.precision not in self.precisions:
            raise ConfigError(f"runner {self.kind} supports precision {list(self.precisions)}, not {spec.precision!r}")
        self.spec = spec

    def prepare(self, transport: Transport) -> None:
        """Put what the runner needs on the device (called once per session)."""

    @abstractmethod
    def fingerprint(self, transport: Transport) -> dict:
        """Facts identifying the device and runtime (CPU model, cores, OS, runtime version, governor)."""

    @abstractmethod
    def measure(self, transport: Transport, jobs: list[MeasureJob], paths: dict[str, str],
                anchor: Optional[MeasureJob] = None) -> Iterator[Timing]:
        """Time each job (its model already at ``paths[job.id]`` on the device); yield as they finish.

        ``anchor`` (at ``paths[anchor.id]``) is a fixed model to time between rounds of every job, for
        runners with ``supports_anchor``; the others ignore it and report no anchor samples.
        """

    def version(self) -> str:
        return self.kind


RUNNERS: Registry[type[Runner]] = Registry("runner")


def make_runner(spec: RunnerSpec) -> Runner:
    return RUNNERS.get(spec.kind)(spec)


def shell_fingerprint(transport: Transport) -> dict:
    """Device facts from standard commands (used by runners that have no script of their own)."""

    def read(argv: list[str]) -> Optional[str]:
        result = transport.run(argv, timeout_s=60)
        return result.stdout.strip() or None if result.returncode == 0 else None

    cpuinfo = read(["cat", "/proc/cpuinfo"]) or ""
    model = next((ln.split(":", 1)[1].strip() for key in ("model name", "Hardware", "Model")
                  for ln in cpuinfo.splitlines() if ln.startswith(key) and ":" in ln), None)
    return {"cpu_model": model, "cores": cpuinfo.count("processor\t:") or None, "os": read(["uname", "-srm"]),
            "android_model": read(["getprop", "ro.product.model"]),
            "governor": read(["cat", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"])}
