"""Training checkpoints: one file per run directory, replaced atomically, loaded with ``weights_only=True``.

A checkpoint holds everything an exact continuation needs: supernet and teacher weights, the
optimizer state of the current stage, every rank's RNG states, the position (stage, step within
it, global step), the validation history, and the resolved config that made the run. The learning
rate is a pure function of (stage, step), so the "scheduler state" is the position itself.
"""

from __future__ import annotations

import logging
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ofa.errors import ArtifactError
from ofa.io import atomic_write, torch_load_reason
from ofa.manifest import ManifestHeader

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"
FORMAT = "ofa-train-checkpoint"
SCHEMA_VERSION = 1
HEADER = ManifestHeader("training_checkpoint", SCHEMA_VERSION, kind_optional=True)  # no kind before 0.1.0


@dataclass
class RunState:
    """Where a run is: ``stage`` index, optimizer ``step`` within it, ``global_step`` over all stages."""

    stage: int = 0
    step: int = 0
    global_step: int = 0
    validation: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1])}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(run_dir: Path, *, config: dict, state: RunState, model: dict, optimizer: dict | None,
                    teacher: dict | None, rng: list[dict], world_size: int) -> Path:
    """Write ``run_dir/checkpoint.pt`` atomically (temp file + rename): a kill never leaves half a file."""
    payload = {
        "format": FORMAT,
        **HEADER.fields(),
        "config": config,
        "state": state.to_dict(),
        "scheduler": {"stage": state.stage, "step": state.step},
        "model": model,
        "optimizer": optimizer,
        "teacher": teacher,
        "rng": rng,
        "world_size": world_size,
    }
    path = atomic_write(Path(run_dir) / CHECKPOINT, lambda tmp: torch.save(payload, tmp))
    log.debug("checkpoint: stage %d step %d (global %d) -> %s", state.stage, state.step, state.global_step, path)
    return path


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """Read ``run_dir/checkpoint.pt`` (tensors and plain data only, never pickled objects)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise ArtifactError(f"{run_dir} has no {CHECKPOINT}: nothing to resume (start a run with --out {run_dir})")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise ArtifactError(f"{path} is unreadable ({torch_load_reason(exc)}); it is corrupt or not a training "
                            "checkpoint") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ArtifactError(f"{path} is not an ofa training checkpoint")
    return HEADER.check(payload, path, "start a new run, or resume with the ofa-deploy version that wrote it")


def state_from(payload: dict) -> RunState:
    """The run position stored in a checkpoint; an edited or foreign ``state`` is an :class:`ArtifactError`."""
    state = payload.get("state")
    counters = ("stage", "step", "global_step")
    if (not isinstance(state, dict) or set(state) - {*counters, "validation"}
            or not all(isinstance(state.get(k), int) and not isinstance(state.get(k), bool) and state[k] >= 0
                       for k in counters)
            or not isinstance(state.get("validation", []), list)):
        raise ArtifactError(f"the checkpoint's run state {str(state)[:200]} is not one this tool writes "
                            f"(non-negative integers {list(counters)} and a validation list); the checkpoint is "
                            "corrupt: restore it from a copy, or start the run again with a fresh --out directory")
    return RunState(**state)
