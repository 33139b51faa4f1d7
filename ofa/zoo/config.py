"""``zoo.yaml``: what to build. Unknown keys are errors; every field has a working default.

The embedded default (no config) is the demo: the built-in digits, a short progressive-shrinking
run of the 32x32 space, the two local devices that run here (onnxruntime CPU, LiteRT CPU), three
latency budgets per device spread over the reachable range, ONNX + TFLite exports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ofa.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SupernetSource(_Strict):
    """Exactly one of: an existing supernet dir, an official checkpoint to import, or training."""

    path: Optional[str] = None
    import_official: Optional[str] = None
    train_preset: Optional[str] = "demo"
    train_overrides: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> "SupernetSource":
        given = [k for k in ("path", "import_official") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give one supernet source, not {given}")
        return self


class DeviceTarget(_Strict):
    device: str  # catalog name (`ofa device list`) or a device YAML file
    budgets_ms: Union[list[float], Literal["auto"]] = "auto"
    auto_budgets: int = Field(3, ge=1, le=10)
    formats: list[str] = Field(default_factory=lambda: ["onnx"])
    precision: list[str] = Field(default_factory=lambda: ["fp32"])
    lut_resolutions: Optional[list[int]] = None  # default: every resolution of the space
    calibrate: int = Field(6, ge=0, description="end-to-end measurements for the calibrated latency predictor")
    validate_n: int = Field(0, ge=0, description="sub-networks for `lut validate` (0 = skip)")


class AccuracySettings(_Strict):
    samples: int = Field(60, ge=5)
    calib_images: int = 300
    epochs: int = 300


class SearchSettings(_Strict):
    population: int = 100
    generations: int = 300
    pareto_generations: int = 100
    seed: int = 0


class ZooConfig(_Strict):
    name: str = "ofa-zoo"
    space: str = "ofa_mbv3_in32_d234_e346_k357_w1.0"
    data: str = "builtin"
    supernet: SupernetSource = Field(default_factory=SupernetSource)
    devices: list[DeviceTarget] = Field(default_factory=lambda: [
        DeviceTarget(device="local-ort-cpu", formats=["onnx"], validate_n=20),
        DeviceTarget(device="local-litert-cpu", formats=["tflite"], calibrate=3),  # ~17 s per whole-net conversion
    ])
    accuracy: AccuracySettings = Field(default_factory=AccuracySettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    bn_calib_images: int = 500
    export_latency_repeats: int = 30

    @model_validator(mode="after")
    def _devices(self) -> "ZooConfig":
        names = [d.device for d in self.devices]
        if not names:
            raise ValueError("list at least one device under 'devices'")
        if len(set(names)) != len(names):
            raise ValueError(f"a device is listed twice: {names}")
        return self


def load_zoo_config(path: "str | Path | None" = None, overrides: dict | None = None) -> ZooConfig:
    import yaml

    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"zoo config {path} does not exist")
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must hold a mapping of zoo settings")
    raw.update(overrides or {})
    try:
        return ZooConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid zoo config: {problems}") from None
