"""A search space as plain data: the OFA-MobileNetV3 family with its elastic choices.

A space describes the *supernet*: the stem, a fixed first block, elastic stages (width, stride,
activation, squeeze-excite), the head, and the elastic choices — kernel ``k``, expand ``e``,
depth ``d`` per stage, and input resolution ``r``. Everything else (layer shapes, FLOPs, LUT
blocks) is derived from it, so a space loaded from JSON/YAML rebuilds the same networks.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ofa.errors import ConfigError

Activation = Literal["relu", "relu6", "h_swish"]

#: Sane bounds of a space's dimensions (inclusive). They are far wider than any published OFA space
#: (k 3-7, e 3-6, d 2-4, r 128-224, widths up to 1280) yet keep a hand-edited file from asking for a
#: 50-deep stage or a 100k-pixel input, which would take hours to build before failing.
BOUNDS = {
    "ks_choices": (1, 9),  # odd kernel sizes
    "e_choices": (1, 8),  # expand ratios
    "d_choices": (1, 8),  # blocks per stage
    "resolutions": (8, 1024),  # input side in pixels
}
MAX_STAGES = 10
MAX_WIDTH = 4096  # base channel widths (before the width multiplier)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never dropping below 90% of it.

    This is the channel rounding of the MobileNet family (and of OFA's checkpoints), so widths
    derived from a width multiplier match the official networks exactly.
    """
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return int(rounded)


class LayerSpec(BaseModel):
    """A fixed layer: base width (before the width multiplier), stride, activation."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    width: int = Field(gt=0, le=MAX_WIDTH)
    stride: Literal[1, 2] = 1
    act: Activation = "relu"


class StageSpec(LayerSpec):
    """An elastic stage of MBConv blocks; ``se`` adds squeeze-excite to each block.

    ``max_blocks`` caps the stage's depth whatever ``d`` says (OFA-ProxylessNAS's last stage has one block,
    elastic in kernel and expand only): its ``d`` entry is clamped, as the official supernet clamps it.
    """

    se: bool = False
    max_blocks: Optional[int] = Field(default=None, ge=1, le=BOUNDS["d_choices"][1])


class SearchSpace(BaseModel):
    """An OFA-MobileNetV3-family search space (see module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    description: str = ""
    family: Literal["mbv3", "proxyless"] = "mbv3"
    width_mult: float = Field(default=1.0, gt=0, le=4)
    stem: LayerSpec
    first_block: StageSpec
    stages: tuple[StageSpec, ...] = Field(max_length=MAX_STAGES)
    final_expand_width: int = Field(gt=0, le=MAX_WIDTH)
    feature_mix_width: Optional[int] = Field(gt=0, le=MAX_WIDTH, description="1x1 conv after pooling (MobileNetV3); "
                                             "null: the classifier reads the pooled final_expand features (ProxylessNAS)")
    head_act: Activation = "h_swish"
    ks_choices: tuple[int, ...]
    e_choices: tuple[int, ...]
    d_choices: tuple[int, ...]
    resolutions: tuple[int, ...]
    channel_divisor: int = Field(default=8, ge=1, le=64)
    se_reduction: int = Field(default=4, ge=1, le=64)
    bn_eps: float = Field(default=1e-5, gt=0, lt=1)
    bn_momentum: float = Field(default=0.1, ge=0, le=1)

    @field_validator("ks_choices", "e_choices", "d_choices", "resolutions")
    @classmethod
    def _sorted_unique_in_bounds(cls, values: tuple[int, ...], info) -> tuple[int, ...]:
        if not values:
            raise ValueError("must list at least one value")
        low, high = BOUNDS[info.field_name]
        outside = sorted({v for v in values if not low <= v <= high})
        if outside:
            raise ValueError(f"values must lie in {low}..{high} (this tool's bound for {info.field_name}), "
                             f"got {outside}")
        return tuple(sorted(set(values)))

    @field_validator("ks_choices")
    @classmethod
    def _odd_kernels(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if any(k % 2 == 0 for k in values):
            raise ValueError(f"kernel sizes must be odd, got {list(values)}")
        return values

    @model_validator(mode="after")
    def _has_stages(self) -> "SearchSpace":
        if not self.stages:
            raise ValueError("a space needs at least one elastic stage")
        capped = [i for i, st in enumerate(self.stages) if st.max_blocks and st.max_blocks > max(self.d_choices)]
        if capped:
            raise ValueError(f"stage(s) {capped}: max_blocks exceeds the largest depth {max(self.d_choices)}")
        return self

    # ----- derived quantities -------------------------------------------------------------
    def channels(self, base_width: int) -> int:
        """Actual channel count of a base width under this space's width multiplier."""
        return make_divisible(base_width * self.width_mult, self.channel_divisor)

    @property
    def n_stages(self) -> int:
        return len(self.stages)

    @property
    def max_depth(self) -> int:
        return max(self.d_choices)

    @property
    def depth_caps(self) -> tuple[int, ...]:
        """Per stage, the most blocks it can run (``max_depth`` unless the stage sets ``max_blocks``)."""
        return tuple(min(st.max_blocks or self.max_depth, self.max_depth) for st in self.stages)

    def effective_depth(self, stage: int, d: int) -> int:
        """Blocks stage ``stage`` runs for a ``d`` entry (clamped by its ``max_blocks``)."""
        return min(d, self.depth_caps[stage])

    def slot_exists(self, slot: int) -> bool:
        """Whether a supernet block exists for 0-based slot ``slot`` (a capped stage has fewer)."""
        stage, pos = divmod(slot, self.max_depth)
        return pos < self.depth_caps[stage]

    def active_mask(self, depths):
        """``(N, slots)`` booleans: which slots run for depth values ``depths`` ``(N, stages)`` (caps applied)."""
        import numpy as np

        d = np.minimum(np.asarray(depths), np.asarray(self.depth_caps)[None, :])
        pos = np.arange(self.n_block_slots) % self.max_depth
        return pos[None, :] < np.repeat(d, self.max_depth, axis=1)

    def depth_index_table(self):
        """``(stages, len(d_choices))``: the last running position (0-based) of each stage at each depth choice."""
        import numpy as np

        return np.minimum(np.asarray(self.d_choices)[None, :], np.asarray(self.depth_caps)[:, None]) - 1

    @property
    def classifier_in_channels(self) -> int:
        return self.feature_mix_channels or self.final_expand_channels

    @property
    def n_block_slots(self) -> int:
        """Length of the per-block ``ks``/``e`` lists: ``max_depth`` slots per stage."""
        return self.n_stages * self.max_depth

    @property
    def stem_channels(self) -> int:
        return self.channels(self.stem.width)

    @property
    def first_block_channels(self) -> int:
        return self.channels(self.first_block.width)

    @property
    def stage_channels(self) -> list[int]:
        return [self.channels(s.width) for s in self.stages]

    @property
    def final_expand_channels(self) -> int:
        return self.channels(self.final_expand_width)

    @property
    def feature_mix_channels(self) -> int | None:
        return self.channels(self.feature_mix_width) if self.feature_mix_width else None

    def mid_channels(self, in_channels: int, expand: float) -> int:
        """Hidden width of an MBConv block with ``in_channels`` inputs and expand ratio ``expand``."""
        return make_divisible(round(in_channels * expand), self.channel_divisor)

    def se_channels(self, mid: int) -> int:
        """Squeeze-excite bottleneck width for a block with ``mid`` hidden channels."""
        return make_divisible(mid // self.se_reduction, self.channel_divisor)

    def stage_of_slot(self, slot: int) -> int:
        return slot // self.max_depth

    def summary(self) -> dict:
        """A short, human-oriented description used by ``ofa space show`` and the demo."""
        return {
            "id": self.id,
            "stages": len(self.stages),
            "stage_channels": self.stage_channels,
            "k": list(self.ks_choices),
            "e": list(self.e_choices),
            "d": list(self.d_choices),
            "r": [min(self.resolutions), max(self.resolutions)],
            "n_resolutions": len(self.resolutions),
            "n_subnets": self.count_subnets(),
        }

    def count_subnets(self) -> int:
        """Number of distinct architectures (unused slots ignored), times resolutions."""
        per_block = len(self.ks_choices) * len(self.e_choices)
        total = len(self.resolutions)
        for cap in self.depth_caps:
            total *= sum(per_block**d for d in sorted({min(d, cap) for d in self.d_choices}))
        return total

    @classmethod
    def from_dict(cls, data: dict, source: str = "") -> "SearchSpace":
        """Validate a space definition, raising :class:`ConfigError` with every problem listed.

        ``source`` (a file name) prefixes the message."""
        from ofa.validation import validate_model

        where = f"{source}: " if source else ""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}a search space definition must be a mapping (id, stem, stages, ks_choices, "
                              f"...), got {type(data).__name__}; see `ofa space show ID --json` for an example")
        return validate_model(cls, data, f"{where}invalid search space definition")
