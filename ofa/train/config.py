"""The training config: a pydantic model whose schedule is a list of stage records.

A config is assembled in layers — built-in defaults, an optional preset (``smoke``), an optional
YAML file, the command-line options, then ``--set key=value`` overrides — and validated twice:
by pydantic (types, ranges, unknown keys) and against the search space (every value a stage
names must be one of the space's choices). Missing ``schedule`` means the default progressive-
shrinking schedule derived from the space (:mod:`ofa.train.schedule`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator

from ofa.errors import ConfigError
from ofa.io import yaml_error_reason
from ofa.validation import validate_model

Choice = Union[list[int], Literal["all", "max", "min"]]
#: expand ratios are integers for MobileNetV3/ProxylessNAS and fractions (0.2, 0.25, 0.35) for OFA-ResNet
FloatChoice = Union[list[int], list[float], Literal["all", "max", "min"]]
PRESETS_DIR = Path(__file__).parent / "presets"
DEFAULT_SPACE = "ofa_mbv3_in32_d234_e346_k357_w1.0"
#: keys a resumed run may change: they do not alter the trained weights
RESUME_SAFE_KEYS = ("data", "workers", "threads", "log_every", "checkpoint_every", "validation", "tensorboard")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StageConfig(_Strict):
    """One phase of the schedule: which dimensions are elastic (and to which values) and how to train it.

    ``ks``/``e``/``d``/``r`` (and, for OFA-ResNet, ``w``: width multipliers) are lists of allowed values,
    or ``"max"``/``"min"`` (the space's largest/smallest value only) or ``"all"`` (every value of the space).
    """

    name: str = Field(min_length=1)
    ks: Choice = "max"
    e: FloatChoice = "max"
    d: Choice = "max"
    r: Choice = "all"
    w: Union[list[float], Literal["all", "max", "min"], None] = Field(
        default=None, description="OFA-ResNet only: width multipliers (unset: max); left out of other spaces' configs")
    epochs: float = Field(gt=0, description="before multiplying by epochs_scale")
    warmup_epochs: float = Field(default=0.0, ge=0)
    lr: float = Field(gt=0)
    subnets_per_step: int = Field(default=1, ge=1)
    sandwich: bool = Field(default=False, description="largest + smallest + random sub-networks each step")
    kd_weight: float = Field(default=0.0, ge=0)
    kd_source: Literal["teacher", "inplace"] = Field(
        default="teacher", description="teacher: the frozen full network of loss.teacher_stage (OFA); inplace: the "
        "step's first (largest) sub-network, live, as in BigNAS; it trains on the labels alone")
    reorganize_channels: bool = False
    freeze_stages: int = Field(default=0, ge=0, description="the stem, the first block and this many leading elastic "
                               "stages get no updates (BN statistics kept) during this stage; for transfer")

    @model_serializer(mode="wrap")
    def _without_unset_width(self, handler):
        data = handler(self)
        if self.w is None:  # a MobileNetV3/ProxylessNAS stage: its config stays as it always was
            data.pop("w", None)
        return data

    @model_validator(mode="after")
    def _sandwich_needs_two(self) -> "StageConfig":
        if self.sandwich and self.subnets_per_step < 2:
            raise ValueError(f"stage {self.name!r}: sandwich needs subnets_per_step >= 2 (largest + smallest)")
        if self.kd_source == "inplace" and self.kd_weight > 0 and not self.sandwich:
            raise ValueError(f"stage {self.name!r}: kd_source 'inplace' distils from the step's largest sub-network; "
                             "set sandwich: true (largest first) or kd_source: teacher")
        return self


class OptimConfig(_Strict):
    momentum: float = Field(default=0.9, ge=0, lt=1)
    nesterov: bool = True
    weight_decay: float = Field(default=3e-5, ge=0)
    no_decay_bn_bias: bool = True
    min_lr: float = Field(default=0.0, ge=0)


class LossConfig(_Strict):
    label_smoothing: float = Field(default=0.1, ge=0, lt=1)
    ce_weight: float = Field(default=1.0, ge=0)
    kd_temperature: float = Field(default=1.0, gt=0)
    teacher_stage: str | None = Field(default="full", description="the full network at the end of this stage is the KD teacher")


class ValidationConfig(_Strict):
    n_random: int = Field(default=2, ge=0)
    seed: int = 0
    calib_images: int = Field(default=500, ge=1, description="OFA uses 2000 on ImageNet")
    calib_batch_size: int = Field(default=100, ge=1)
    batch_size: int = Field(default=200, ge=1)
    max_images: int | None = Field(default=None, ge=1)


class TrainConfig(_Strict):
    space: str = DEFAULT_SPACE
    data: str = "builtin"
    num_classes: int | None = Field(default=None, ge=1, description="default: the dataset's class count")
    init: str | None = Field(default=None, description="supernet directory, or official OFA checkpoint file, to start "
                             "from instead of random weights")
    head: Literal["auto", "keep", "new"] = Field(default="auto", description="with init: keep its classifier, or a new "
                                                 "one (N(0, 0.01) weights, zero bias); auto = new when the class counts differ")
    seed: int = 0
    batch_size: int = Field(default=64, ge=1, description="global batch (split across DDP ranks)")
    epochs_scale: float = Field(default=0.01, gt=0, description="multiplies every stage's epochs")
    dropout: float = Field(default=0.1, ge=0, lt=1)
    augment: bool = Field(default=True, description="random-crop (and flip, where the dataset allows) training images")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    channels_last: bool = Field(default=True, description="NHWC memory format (faster convolutions on CPU and GPU)")
    workers: int = Field(default=0, ge=0)
    threads: int | None = Field(default=None, ge=1)
    checkpoint_every: int = Field(default=100, ge=0, description="steps; 0 = only at stage ends")
    log_every: int = Field(default=10, ge=1)
    tensorboard: bool = True
    optim: OptimConfig = OptimConfig()
    loss: LossConfig = LossConfig()
    validation: ValidationConfig = ValidationConfig()
    schedule: list[StageConfig]

    @model_validator(mode="after")
    def _unique_stage_names(self) -> "TrainConfig":
        names = [s.name for s in self.schedule]
        if not names:
            raise ValueError("schedule needs at least one stage")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"stage names must be unique; repeated: {duplicates}")
        return self

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


# ----- assembling a config -------------------------------------------------------------------
def load_config(preset: str | None = None, file: "str | Path | None" = None, options: dict | None = None,
                overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Defaults <- preset <- YAML ``file`` <- ``options`` (CLI flags) <- ``overrides`` (``key=value``)."""
    raw: dict = {}
    if preset:
        raw = _merge(raw, read_preset(preset))
    if file:
        raw = _merge(raw, read_yaml(Path(file)))
    raw = _merge(raw, {k: v for k, v in (options or {}).items() if v is not None})
    parsed = [parse_override(item) for item in overrides]
    for key, value in parsed:
        if not key.startswith("schedule"):
            set_path(raw, key, value)
    if raw.get("init") and "space" not in raw:
        from ofa.train.transfer import init_space_id

        raw["space"] = init_space_id(raw["init"])
    if "schedule" not in raw:
        from ofa.train.schedule import default_schedule

        raw["schedule"] = default_schedule(_space_of(raw))
    for key, value in parsed:
        if key.startswith("schedule"):
            set_path(raw, key, value)
    return resolve(raw)


def resolve(raw: dict) -> TrainConfig:
    """Validate ``raw`` and expand every stage's choices to explicit lists checked against the space."""
    config = validate_dict(raw)
    from ofa.train.family import family_for, n_stages

    space = _space_of(config.to_dict())
    family = family_for(space)
    for stage in config.schedule:
        family.expand_stage(stage)
    _check_teacher(config)
    limit = n_stages(space)
    too_many = [s.name for s in config.schedule if s.freeze_stages > limit]
    if too_many:
        raise ConfigError(f"schedule stage(s) {too_many}: freeze_stages exceeds the {limit} elastic stages of "
                          f"space {space.id}; use 0..{limit}")
    return config


def validate_dict(raw: dict) -> TrainConfig:
    return validate_model(TrainConfig, raw, "invalid training config", lambda loc: _loc(loc, raw))


def _loc(loc: tuple, raw: dict) -> str:
    parts = []
    for i, part in enumerate(loc):
        if isinstance(part, int) and i > 0 and loc[i - 1] == "schedule":
            name = (raw.get("schedule") or [{}] * (part + 1))[part]
            parts.append(f"{part}({name.get('name')})" if isinstance(name, dict) and name.get("name") else str(part))
        elif str(part).startswith(("list[", "literal[")):  # pydantic's union-member tags
            continue
        else:
            parts.append(str(part))
    return ".".join(parts) or "(root)"


def _check_teacher(config: TrainConfig) -> None:
    names = [s.name for s in config.schedule]
    teacher = config.loss.teacher_stage
    if teacher is not None and teacher not in names:
        raise ConfigError(f"loss.teacher_stage={teacher!r} is not a stage of the schedule {names}; "
                          "name one of them, or set it to null when no stage uses KD")
    first_kd = next((i for i, s in enumerate(config.schedule) if s.kd_weight > 0 and s.kd_source == "teacher"), None)
    if first_kd is None:
        return
    if teacher is None or first_kd <= names.index(teacher):
        raise ConfigError(f"stage {names[first_kd]!r} uses kd_weight > 0 but no teacher exists yet: the teacher is the full "
                          f"network at the end of loss.teacher_stage ({teacher!r}); put KD stages after it or set kd_weight: 0")


def _space_of(raw: dict):
    from ofa.train.family import train_space

    return train_space(raw.get("space", DEFAULT_SPACE), raw.get("init"))


# ----- files, presets, overrides ---------------------------------------------------------------
def read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is binary, not UTF-8 YAML text") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: a malformed scalar (e.g. date 2020-13-45)
        raise ConfigError(f"config file {path} is not valid YAML: {yaml_error_reason(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys (space, data, schedule, ...)")
    return data


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.yaml"))


def read_preset(name: str) -> dict:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown preset {name!r}; known presets: {list_presets()}")
    return read_yaml(path)


def parse_override(item: str) -> tuple[str, Any]:
    """``"schedule.kernel.lr=0.01"`` -> ``("schedule.kernel.lr", 0.01)``; values are YAML scalars/lists."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects key=value (e.g. batch_size=32 or schedule.kernel.lr=0.01), got {item!r}")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {item!r}: value is not valid YAML: {exc}") from None
    return key.strip(), value


def set_path(raw: dict, key: str, value: Any) -> None:
    """Set dotted ``key`` in ``raw``; list items (schedule stages) are addressed by index or stage name."""
    parts = key.split(".")
    node: Any = raw
    for i, part in enumerate(parts[:-1]):
        node = _child(node, part, ".".join(parts[: i + 1]))
    last = parts[-1]
    if isinstance(node, list):
        node[_index(node, last, key)] = value
    else:
        node[last] = value


def _child(node: Any, part: str, where: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, where)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {where}: {where.rsplit('.', 1)[0]} is a value, not a section")
    if node.get(part) is None:
        node[part] = {}
    return node[part]


def _index(items: list, part: str, where: str) -> int:
    if part.lstrip("-").isdigit() and -len(items) <= int(part) < len(items):
        return int(part)
    names = [item.get("name") for item in items if isinstance(item, dict)]
    if part in names:
        return names.index(part)
    raise ConfigError(f"--set {where}: no stage {part!r}; stages are {names} (or their indices 0..{len(items) - 1})")


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys
