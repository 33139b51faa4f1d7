"""``zoo.yaml``: what to build. Unknown keys are errors; every field has a working default.

The embedded default (no config) is the demo: the built-in digits, a short supernet training (the `demo`
preset) of the 32x32 space, onnxruntime on this CPU, three latency budgets spread over the reachable
range, ONNX exports. LiteRT (TFLite) is one more line of a zoo.yaml (see docs/zoo.md).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from devices.spec import LatencyStat
from ofa.validation import validate_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)  # a Python caller's edits are checked too


class SupernetSource(_Strict):
    """Exactly one of: an existing supernet dir, an official checkpoint to import, or training.

    ``transfer: true`` fine-tunes the given supernet (``path`` or ``import_official``) on the zoo's data,
    with a new head when the class counts differ (``ofa train --init``; preset ``transfer`` by default).
    """

    path: Optional[str] = None
    import_official: Optional[str] = None
    transfer: bool = False
    train_preset: Optional[str] = "demo"
    train_overrides: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> "SupernetSource":
        given = [k for k in ("path", "import_official") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"give one supernet source, not {given}")
        if self.transfer and not given:
            raise ValueError("transfer: true fine-tunes a given supernet; add path: or import_official:")
        return self

    @property
    def preset(self) -> Optional[str]:
        """The training preset: ``transfer`` for a transfer unless one was named."""
        if self.transfer and "train_preset" not in self.model_fields_set:
            return "transfer"
        return self.train_preset


class DeviceTarget(_Strict):
    device: str  # catalog name (`ofa device list`) or a device YAML file
    budgets_ms: Union[list[float], Literal["auto"]] = "auto"
    auto_budgets: int = Field(3, ge=1, le=10)
    latency_stat: Optional[LatencyStat] = Field(None, description="statistic of plain timed runs a budget promises "
                                                "(default: the device's latency_stat, median unless it says otherwise)")
    latency_margin: float = Field(0.05, ge=0, lt=0.5, description="an entry is ok when its measured statistic is at "
                                  "most budget * (1 - margin): headroom for the device's run-to-run noise")
    latency_rounds: int = Field(3, ge=1, le=10, description="searches per budget: each round after the first "
                                "targets a tighter internal budget when the entry measured over")
    formats: list[str] = Field(default_factory=lambda: ["onnx"])
    precision: Optional[list[Literal["fp32", "fp16", "int8"]]] = Field(
        None, min_length=1, description="export precisions (default: fp32, plus the device's own precision: an int8 "
        "device such as local-ort-cpu-int8 gets fp32 and int8, and its entries are timed as the int8 file)")
    lut_resolutions: Optional[list[int]] = None  # default: every resolution of the space
    latency_predictor: Optional[str] = Field(None, description="a fitted predictor directory (`ofa latency fit`) "
                                             "used for this device instead of building a latency table")
    calibrate: int = Field(6, ge=0, description="end-to-end measurements for the calibrated latency predictor")
    validate_n: int = Field(0, ge=0, description="sub-networks for `lut validate` (0 = skip)")

    @field_validator("budgets_ms")
    @classmethod
    def _positive_budgets(cls, value):
        if value == "auto":
            return value
        if not value:
            raise ValueError("budgets_ms is empty; list budgets in ms (e.g. [0.5, 1.0]) or say 'auto'")
        bad = [b for b in value if not math.isfinite(b) or b <= 0]
        if bad:
            raise ValueError(f"budgets must be positive, finite milliseconds; got {bad}")
        return value


class AccuracySettings(_Strict):
    samples: int = Field(50, ge=5)
    calib_images: int = 300
    epochs: int = 300
    ensemble: int = Field(5, ge=1, description="MLPs in the predictor; their spread is its uncertainty")
    rank_by: Literal["mean", "lower_bound"] = Field("mean", description="what the search maximises: the predicted "
                                                    "mean, or mean - ensemble std")
    top_k: int = Field(8, ge=1, description="best predicted candidates per budget evaluated for real; the best measured wins")


class SearchSettings(_Strict):
    population: int = 100
    generations: int = 300
    pareto_generations: int = 100
    seed: int = 0
    strategy: Literal["evolution", "aging", "random", "reinforce", "bayesian", "nsga2"] = "evolution"


class ZooConfig(_Strict):
    name: str = "ofa-zoo"
    space: str = "ofa_mbv3_in32_d234_e346_k357_w1.0"
    data: str = "builtin"
    supernet: SupernetSource = Field(default_factory=SupernetSource)
    # The demo profiles onnxruntime only: a LiteRT table costs ~5 min of micro-model conversions here, which
    # the 15-minute demo spends on training instead (add `- {device: local-litert-cpu, formats: [tflite]}`).
    devices: list[DeviceTarget] = Field(default_factory=lambda: [
        DeviceTarget(device="local-ort-cpu", formats=["onnx"], calibrate=10, validate_n=10),
    ])
    accuracy: AccuracySettings = Field(default_factory=AccuracySettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    bn_calib_images: int = 500
    export_latency_repeats: int = 30
    int8_calib_images: int = Field(200, ge=1, description="training images that calibrate int8 exports (post-training "
                                   "static quantisation) of entries for int8 devices")
    int8_max_drop: float = Field(0.01, ge=0, le=1, description="an int8 entry promises at most this top-1 drop "
                                 "from fp32 (a share: 0.01 = 1 point); over it the entry says int8_mismatch")
    int8_tries: int = Field(3, ge=1, le=10, description="int8 entries: measured candidates built in turn (best fp32 "
                            "top-1 first) until one's int8 file keeps the drop within int8_max_drop; the best int8 "
                            "top-1 among them is kept")
    entry_warmup: int = Field(50, ge=0, description="untimed runs before an entry's latency is timed on its device")
    entry_repeats: int = Field(300, ge=5, description="timed runs per pass of an entry (plain loop, no drift anchor)")
    entry_passes: int = Field(5, ge=1, description="separate timing runs of an entry; the slowest pass is the promise")

    @model_validator(mode="after")
    def _devices(self) -> "ZooConfig":
        names = [d.device for d in self.devices]
        if not names:
            raise ValueError("list at least one device under 'devices'")
        if len(set(names)) != len(names):
            raise ValueError(f"a device is listed twice: {names}")
        return self


def load_zoo_config(path: "str | Path | None" = None, overrides: dict | None = None) -> ZooConfig:
    raw: dict = {}
    if path is not None:
        from ofa.io import read_yaml_file

        raw = read_yaml_file(path, "zoo config", fix="see docs/zoo.md for the keys")
    raw.update(overrides or {})
    return validate_model(ZooConfig, raw, "invalid zoo config")
