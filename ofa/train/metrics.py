"""Training metrics: JSONL in the run directory, progress reporting, TensorBoard when installed.

``metrics.jsonl`` gets one record per ``log_every`` steps (loss, CE, KD, train accuracy, lr,
images/s, resolution) and one per validated reference sub-network. A reporter shows progress: the
library default logs plain lines with an ETA; the CLI passes a rich progress bar on a terminal.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Protocol

from ofa.io import atomic_write_text

log = logging.getLogger(__name__)
METRICS = "metrics.jsonl"


class MetricsLog:
    """Append-only JSONL file (plus TensorBoard scalars when ``tensorboard`` is importable)."""

    def __init__(self, run_dir: Path, tensorboard: bool = True):
        self.path = Path(run_dir) / METRICS
        self.tensorboard, self.writer = tensorboard, None  # files are created on the first write

    def write(self, record: dict) -> None:
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
        if self.tensorboard and self.writer is None:
            self.writer, self.tensorboard = _tensorboard(self.path.parent / "tensorboard"), False
        if self.writer is not None and "step" in record:
            prefix = record.get("event", "train")
            for key, value in record.items():
                if isinstance(value, (int, float)) and key not in ("step", "stage_index", "stage_step"):
                    self.writer.add_scalar(f"{prefix}/{key}", value, record["step"])

    def truncate_after(self, global_step: int) -> None:
        """Drop records past ``global_step`` (written after the checkpoint a resumed run starts from)."""
        if not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            if record.get("step", 0) <= global_step:
                kept.append(line)
        atomic_write_text(self.path, "".join(f"{line}\n" for line in kept))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _tensorboard(directory: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        log.debug("tensorboard is not installed; metrics go to %s only", METRICS)
        return None
    return SummaryWriter(str(directory))


def read_metrics(run_dir: "str | Path") -> list[dict]:
    path = Path(run_dir) / METRICS
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


class Reporter(Protocol):
    def start_stage(self, name: str, index: int, n_stages: int, total: int, done: int) -> None: ...
    def advance(self, done: int, record: dict | None) -> None: ...
    def end_stage(self) -> None: ...


class LogReporter:
    """Plain log lines every ``log_every`` steps, with the stage's ETA."""

    def __init__(self) -> None:
        self.name, self.total, self.start_done, self.t0 = "", 0, 0, 0.0

    def start_stage(self, name: str, index: int, n_stages: int, total: int, done: int) -> None:
        self.name, self.total, self.start_done, self.t0 = f"stage {index + 1}/{n_stages} {name}", total, done, time.perf_counter()
        log.info("%s: %d steps%s", self.name, total, f" (resuming at step {done})" if done else "")

    def advance(self, done: int, record: dict | None) -> None:
        if record is None:
            return
        elapsed = time.perf_counter() - self.t0
        rate = (done - self.start_done) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        log.info("%s step %d/%d loss %.4f acc %.3f lr %.3g %.0f img/s eta %s", self.name, done, self.total,
                 record["loss"], record["acc"], record["lr"], record["images_per_s"], format_seconds(eta))

    def end_stage(self) -> None:
        log.info("%s done in %s", self.name, format_seconds(time.perf_counter() - self.t0))


def format_seconds(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
