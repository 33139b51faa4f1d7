"""The default progressive-shrinking schedule of a space, and the step/learning-rate arithmetic.

OFA's published order: the full network (the KD teacher), then elastic kernel, then elastic depth
and elastic expand ratio, each in steps that add smaller values one at a time (``d`` {3,4} then
{2,3,4}), with elastic resolution throughout. Epochs are OFA's (180 / 120 / 25+120 / 25+120) and
are multiplied by the config's ``epochs_scale``; steps are derived from the space's choices, so a
space with depth {1,2} gets one depth stage.
"""

from __future__ import annotations

import math

from ofa.errors import ConfigError
from ofa.spaces import SearchSpace

FULL_EPOCHS, KERNEL_EPOCHS, LAST_STEP_EPOCHS, EARLY_STEP_EPOCHS = 180.0, 120.0, 120.0, 25.0


def growing_steps(choices: tuple[int, ...]) -> list[list[int]]:
    """``(2, 3, 4)`` -> ``[[3, 4], [2, 3, 4]]``: each step admits the next smaller value."""
    values = sorted(choices)
    return [values[i:] for i in range(len(values) - 2, -1, -1)]


def default_schedule(space: SearchSpace) -> list[dict]:
    """OFA's progressive-shrinking schedule for ``space``, as a list of stage records (plain dicts)."""
    if not hasattr(space, "ks_choices"):  # an OFA-ResNet space: fine-tuned from a trained supernet only
        raise ConfigError(f"space {space.id} (OFA-ResNet) has no default progressive-shrinking schedule: use --preset "
                          "transfer-resnet (the default with an OFA-ResNet --init) or give a schedule in --config")
    stages = [dict(name="full", ks="max", e="max", d="max", r="all", epochs=FULL_EPOCHS, warmup_epochs=5.0, lr=0.05)]
    if len(space.ks_choices) > 1:
        stages.append(dict(name="kernel", ks="all", e="max", d="max", r="all", epochs=KERNEL_EPOCHS, warmup_epochs=5.0,
                           lr=0.03, kd_weight=1.0))
    stages += _growing("depth", space.d_choices, dict(ks="all", e="max"), subnets_per_step=2)
    expand = _growing("expand", space.e_choices, dict(ks="all", d="all"), subnets_per_step=4)
    if expand:
        expand[0]["reorganize_channels"] = True
    return stages + expand


def _growing(dim: str, choices: tuple[int, ...], fixed: dict, subnets_per_step: int) -> list[dict]:
    steps = growing_steps(choices)
    key = dim[0]  # "d" or "e"
    out = []
    for i, values in enumerate(steps):
        last = i == len(steps) - 1
        out.append(dict(name=f"{dim}{''.join(map(str, values))}", **fixed, **{key: values}, r="all",
                        epochs=LAST_STEP_EPOCHS if last else EARLY_STEP_EPOCHS, lr=0.0075 if last else 0.0025,
                        subnets_per_step=subnets_per_step, kd_weight=1.0))
    return out


# ----- steps and learning rate ------------------------------------------------------------------
def stage_steps(epochs: float, epochs_scale: float, steps_per_epoch: int) -> int:
    """Optimizer steps of a stage (at least one)."""
    return max(1, round(epochs * epochs_scale * steps_per_epoch))


def warmup_steps(warmup_epochs: float, epochs_scale: float, steps_per_epoch: int, total: int) -> int:
    return min(total - 1, round(warmup_epochs * epochs_scale * steps_per_epoch)) if warmup_epochs > 0 else 0


def lr_at(step: int, total: int, warmup: int, lr: float, min_lr: float = 0.0) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``lr`` to ``min_lr`` (``step`` 0-based)."""
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    span = max(1, total - warmup)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * (step - warmup) / span))
