"""The OFA-ResNet50 space (``ofa_resnet50``) and its sub-network configs, as plain validated data.

Exactly the official ``OFAResNets(depth_list=[0, 1, 2], expand_ratio_list=[0.2, 0.25, 0.35],
width_mult_list=[0.65, 0.8, 1.0])``: a three-conv input stem (3x3 stride 2 to half the stem width, a 3x3
residual conv, a 3x3 conv to the stem width), 3x3 max pooling, four stages of bottleneck blocks (base depths
2/2/4/2 plus 0, 1 or 2 extra blocks; widths 256/512/1024/2048 x the stage's width multiplier; strides
1/2/2/2; avg-pool + 1x1 conv shortcuts where shapes change), global pooling and a linear classifier.

A config is the official selection: ``d`` (5: the stem, then one per stage; a stem ``d`` below the largest
skips the stem's residual conv, the *stem-skipping rule*), ``e`` (one expand ratio per block slot, 18),
``w`` (6 width-multiplier *indices*: the stem's two convs, then one per stage) and the resolution ``r``.
This family is not a :class:`~ofa.spaces.SearchSpace` (no kernel choices, float expand ratios, a width
dimension), so it lives beside the registry: import (also ``ofa import-official``), extraction (``ofa
extract``), export, FLOPs/params, parity, latency tables (``ofa lut build``, :mod:`latency.resnet_blocks`),
accuracy tables and the evolutionary search (``ofa acc build``, ``ofa search``, :mod:`ofa.resnet_population`)
and fine-tuning from a trained supernet (``ofa train --init``, :mod:`ofa.train.resnet_family`) are supported;
the zoo is not wired to it yet.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from ofa.errors import ConfigError
from ofa.spaces.space import make_divisible


class ResNetSpace(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = "ofa_resnet50"
    base_depths: tuple[int, ...] = (2, 2, 4, 2)
    stage_widths: tuple[int, ...] = (256, 512, 1024, 2048)
    strides: tuple[int, ...] = (1, 2, 2, 2)
    stem_width: int = 64
    d_choices: tuple[int, ...] = (0, 1, 2)
    e_choices: tuple[float, ...] = (0.2, 0.25, 0.35)
    w_choices: tuple[float, ...] = (0.65, 0.8, 1.0)
    resolutions: tuple[int, ...] = tuple(range(128, 225, 4))
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1

    @property
    def stage_blocks(self) -> list[list[int]]:
        """Block slot indices of each stage (base depth + the largest extra depth)."""
        out, start = [], 0
        for base in self.base_depths:
            n = base + max(self.d_choices)
            out.append(list(range(start, start + n)))
            start += n
        return out

    @property
    def n_blocks(self) -> int:
        return sum(len(b) for b in self.stage_blocks)

    def stem_channels(self, w: int) -> int:
        return make_divisible(self.stem_width * self.w_choices[w], 8)

    def stem_mid_channels(self, w: int) -> int:
        return make_divisible(self.stem_channels(w) // 2, 8)

    def stage_channels(self, stage: int, w: int) -> int:
        return make_divisible(self.stage_widths[stage] * self.w_choices[w], 8)

    @staticmethod
    def mid_channels(out_channels: int, expand: float) -> int:
        return make_divisible(round(out_channels * expand), 8)


@dataclass(frozen=True)
class ResNetConfig:
    d: tuple[int, ...]
    e: tuple[float, ...]
    w: tuple[int, ...]
    r: int
    space: str = "ofa_resnet50"

    def validate(self, space: ResNetSpace) -> "ResNetConfig":
        checks = [("d", self.d, 1 + len(space.base_depths), space.d_choices, "the stem, then one per stage"),
                  ("e", self.e, space.n_blocks, space.e_choices, "one per block slot"),
                  ("w", self.w, 2 + len(space.base_depths), range(len(space.w_choices)),
                   f"indices into the width multipliers {list(space.w_choices)}: the stem's two convs, then one per stage")]
        for name, values, length, choices, what in checks:
            if len(values) != length:
                raise ConfigError(f"'{name}' has {len(values)} entries but {space.id} needs {length} ({what})")
            bad = sorted({v for v in values if v not in choices})
            if bad:
                raise ConfigError(f"'{name}' has value(s) {bad} outside {space.id}; valid: {list(choices)} ({what})")
        if self.r not in space.resolutions:
            raise ConfigError(f"resolution r={self.r} is not in {space.id}; valid: {list(space.resolutions)}")
        return self

    @classmethod
    def from_dict(cls, data: dict, space: ResNetSpace) -> "ResNetConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"a ResNet config is a JSON object with d, e, w and r, got {type(data).__name__}")
        unknown = sorted(set(data) - {"space", "d", "e", "w", "r"}, key=str)
        if unknown:
            raise ConfigError(f"unknown ResNet config key(s) {unknown}; valid: space, d, e, w, r")
        missing = [k for k in ("d", "e", "w", "r") if k not in data]
        if missing:
            raise ConfigError(f"the ResNet config lacks {missing}; it needs d, e, w (lists) and r")
        cfg = cls(_numbers(data["d"], "d", True), _numbers(data["e"], "e", False), _numbers(data["w"], "w", True),
                  _number(data["r"], "r", True), space.id)
        return cfg.validate(space)

    def to_dict(self) -> dict:
        return {"space": self.space, "d": list(self.d), "e": list(self.e), "w": list(self.w), "r": self.r}

    def to_json(self) -> str:
        """Compact, canonical JSON (the key of accuracy-table rows and search results)."""
        import json

        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, space: "ResNetSpace") -> "ResNetConfig":
        import json

        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"not a ResNet config in JSON ({exc}): {str(text)[:80]!r}") from None
        return cls.from_dict(data, space)

    def arch_string(self, space: "ResNetSpace") -> str:
        """One line naming the network: ``r160|d2,1,0,2,1|w0,1,2,2,1,0|e.25,.35,...`` (skipped blocks as ``-``)."""
        active = {slot for _, slot in self.active_blocks(space)}
        e = ",".join(f"{v:g}".lstrip("0") if i in active else "-" for i, v in enumerate(self.e))
        return f"r{self.r}|d{','.join(map(str, self.d))}|w{','.join(map(str, self.w))}|e{e}"

    @classmethod
    def largest(cls, space: ResNetSpace, r: int | None = None) -> "ResNetConfig":
        n = len(space.base_depths)
        return cls((max(space.d_choices),) * (n + 1), (max(space.e_choices),) * space.n_blocks,
                   (len(space.w_choices) - 1,) * (n + 2), r or max(space.resolutions), space.id)

    @classmethod
    def smallest(cls, space: ResNetSpace, r: int | None = None) -> "ResNetConfig":
        n = len(space.base_depths)
        return cls((min(space.d_choices),) * (n + 1), (min(space.e_choices),) * space.n_blocks, (0,) * (n + 2),
                   r or min(space.resolutions), space.id)

    @classmethod
    def sample(cls, space: ResNetSpace, seed: int | None = None) -> "ResNetConfig":
        rng, n = random.Random(seed), len(space.base_depths)
        return cls(tuple(rng.choice(space.d_choices) for _ in range(n + 1)),
                   tuple(rng.choice(space.e_choices) for _ in range(space.n_blocks)),
                   tuple(rng.randrange(len(space.w_choices)) for _ in range(n + 2)), rng.choice(space.resolutions), space.id)

    def skips_stem_conv(self, space: ResNetSpace) -> bool:
        """The stem-skipping rule: a stem depth below the largest drops the stem's residual conv."""
        return self.d[0] != max(space.d_choices)

    def active_blocks(self, space: ResNetSpace) -> list[tuple[int, int]]:
        """``(stage, slot)`` of the blocks that run: each stage drops its last ``max(d) - d`` blocks."""
        return [(s, slot) for s, slots in enumerate(space.stage_blocks)
                for slot in slots[:len(slots) - (max(space.d_choices) - self.d[1 + s])]]


def _numbers(values, name: str, integral: bool) -> tuple:
    if not isinstance(values, (list, tuple)):
        raise ConfigError(f"'{name}' must be a list of numbers, got {values!r}")
    return tuple(_number(v, name, integral) for v in values)


def _number(value, name: str, integral: bool) -> "int | float":
    """A JSON number (no bool, no string); ``integral``: a whole one (``160.0`` is read as 160, 1.5 refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise ConfigError(f"'{name}' must hold finite numbers, got {value!r}")
    if isinstance(value, int):
        return value if integral else _as_float(value, name)
    if integral and not value.is_integer():
        raise ConfigError(f"'{name}' must hold integers, got {value!r}")
    return int(value) if integral else value


def _as_float(value: int, name: str) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        raise ConfigError(f"'{name}' holds {value}, far outside its choices") from None


OFA_RESNET50 = ResNetSpace()
