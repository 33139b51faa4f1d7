"""A device declaration as validated plain data (what a device YAML file holds)."""

from __future__ import annotations

import re
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ofa.errors import ConfigError
from ofa.validation import validate_model

Precision = Literal["fp32", "fp16", "int8"]
#: statistics of plain timed runs a latency budget may be declared in (median by default)
LatencyStat = Literal["median", "mean", "p75", "p90", "p95", "p99"]


class TransportSpec(BaseModel):
    """How to reach the device. ``kind`` picks the transport plug-in (local, ssh, adb)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = "local"
    host: Optional[str] = None
    port: int = Field(default=22, gt=0, lt=65536)
    user: Optional[str] = None
    identity_file: Optional[str] = None  # private key for SSH key authentication
    known_hosts: Optional[str] = None  # known_hosts file checked strictly (default: ~/.ssh/known_hosts)
    serial: Optional[str] = None  # ADB device serial (adb -s)
    adb: str = "adb"  # adb binary
    workdir: Optional[str] = None  # remote directory for temp files (default: a fresh mktemp -d)
    connect_timeout_s: float = Field(default=10.0, gt=0)


class RunnerSpec(BaseModel):
    """What measures on the device. ``kind`` picks the runner plug-in."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: str = "onnxruntime"
    threads: int = Field(default=1, ge=1)
    precision: Precision = "fp32"
    warmup: int = Field(default=10, ge=0)
    repeats: int = Field(default=50, ge=1)
    rounds: int = Field(default=5, ge=1)  # script runners: repeats split into rounds, each after a drift-anchor round
    passes: int = Field(default=2, ge=1)  # every batch is timed at least this many times (devices/passes.py)
    max_passes: int = Field(default=4, ge=1)  # ... and models that have not settled again, up to this many
    settle_tolerance: float = Field(default=0.05, gt=0, lt=1)  # two quietest passes agree within this share
    settle_wait_s: float = Field(default=1.0, ge=0)  # pause before re-timing unsettled models
    drift_anchor: bool = True  # script runners: time a fixed anchor model between rounds (see devices/stats.py)
    python: Optional[str] = None  # interpreter for script runners (default: this one locally, python3 remotely)
    binary: Optional[str] = None  # benchmark_model / trtexec path on the device
    options: dict[str, Any] = Field(default_factory=dict)  # runner-specific extras, documented per runner
    # environment of the timing process (script runners; passed as `env K=V ... python ...`, also over SSH/ADB)
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name, value in env.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"runner.env name {name!r} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
            if "\0" in value or "\n" in value:
                raise ValueError(f"runner.env {name}: the value holds a NUL or newline")
        return env

    def env_argv(self, argv: list[str]) -> list[str]:
        """``argv`` run under ``env``'s variables (an argv list, never a shell string)."""
        if not self.env:
            return list(argv)
        return ["env", *[f"{k}={v}" for k, v in sorted(self.env.items())], *argv]

    @model_validator(mode="after")
    def _passes_order(self) -> "RunnerSpec":
        if self.max_passes < self.passes:
            raise ValueError(f"max_passes ({self.max_passes}) must be >= passes ({self.passes})")
        return self


class DeviceSpec(BaseModel):
    """A device: name, transport, runner, and a note on whether it was verified."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    transport: TransportSpec = Field(default_factory=TransportSpec)
    runner: RunnerSpec = Field(default_factory=RunnerSpec)
    timeout_s: float = Field(default=600.0, gt=0, description="limit for one remote command")
    latency_stat: LatencyStat = Field(default="median", description="the statistic of plain timed runs that latency "
                                      "budgets on this device promise")
    example: bool = False  # a documented template that cannot be checked on this machine

    @classmethod
    def from_dict(cls, data: Any, source: str = "device declaration") -> "DeviceSpec":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a device must be a mapping with keys name/transport/runner, got {type(data).__name__}")
        return validate_model(cls, data, f"{source}: invalid device")

    def summary(self) -> dict[str, Any]:
        where = self.transport.host or self.transport.serial or ""
        return {"name": self.name, "transport": self.transport.kind + (f" {where}" if where else ""),
                "runner": self.runner.kind, "threads": self.runner.threads, "precision": self.runner.precision,
                "example": "yes" if self.example else "", "description": self.description}
