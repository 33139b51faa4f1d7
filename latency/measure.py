"""``ofa device measure``: time N sampled sub-networks end to end on a device, into a measurement file.

Which networks: :mod:`latency.sampling` (``--design``: d-optimal by default, or stratified). Each chunk
of networks is timed with the device's runner (warm-up, repeats, passes, and the drift anchor between
rounds where the runner can: the same path as ``ofa lut validate``), and its rows are written at once
(the whole file rewritten atomically), so a killed run keeps every finished network and a re-run with
the same arguments measures only the missing ones. The sample of a smaller ``--n`` is the start of a
larger one's: measuring 20, fitting, then asking for 50 adds 30 networks.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from devices.session import DeviceSession
from devices.stats import budget_column, summarize
from latency.anchor import network_anchor_job
from latency.e2e import subnet_job
from latency.measurements import read_measurement_rows, write_measurement_rows
from latency.micro import ModelCache
from latency.sampling import sample_networks
from latency.table import now
from ofa.errors import ConfigError, DeviceError
from ofa.locks import directory_lock
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

log = logging.getLogger(__name__)


def measure_to_file(device: str, space: SearchSpace, n: int, out: "str | Path", resolutions: Optional[Sequence[int]] = None,
                    seed: int = 0, num_classes: int = 1000, stat: Optional[str] = None,
                    on_progress: Optional[Callable[[int, int], None]] = None,
                    design: str = "d-optimal") -> list[dict]:
    """Measure ``n`` configs of ``design`` end to end on ``device`` into the CSV ``out`` (resumable); its rows."""
    configs = sample_networks(space, sorted(resolutions or space.resolutions), n, seed, num_classes, design)
    return measure_configs(device, space, configs, out, num_classes, stat, on_progress)


def measure_configs(device: str, space: SearchSpace, configs: Sequence[SubnetConfig], out: "str | Path",
                    num_classes: int = 1000, stat: Optional[str] = None,
                    on_progress: Optional[Callable[[int, int], None]] = None, chunk_size: int = 5) -> list[dict]:
    """Measure ``configs`` not yet in ``out`` (under its lock), saving after every chunk; every row of ``out``."""
    out = Path(out)
    with directory_lock(out.parent, f"measure-{out.name}", "two runs would time the same networks and the "
                        "last save would drop the other's rows"), DeviceSession(device) as session:
        stat = stat or session.spec.latency_stat
        rows = _resumable_rows(out, session.spec.name, space, stat, num_classes)
        have = {r["config"] for r in rows}
        todo = [c for c in configs if c.to_json() not in have]
        with tempfile.TemporaryDirectory(prefix="ofa-measure-") as tmp:
            cache = ModelCache.for_session(tmp, session)  # int8 devices: calibrated on the built-in digits
            for start in range(0, len(todo), chunk_size):
                if on_progress:
                    on_progress(len(configs) - len(todo) + start, len(configs))
                rows += _measure_chunk(session, space, todo[start:start + chunk_size], cache, stat, num_classes)
                write_measurement_rows(out, rows)
        if on_progress:
            on_progress(len(configs), len(configs))
    return rows


def _resumable_rows(out: Path, device: str, space: SearchSpace, stat: str, num_classes: int) -> list[dict]:
    rows = read_measurement_rows(out)
    for row in rows[:1]:
        theirs = (row.get("device"), row.get("statistic"), str(row.get("num_classes")), SubnetConfig.from_json(
            row["config"]).space)
        if theirs != (device, stat, str(num_classes), space.id):
            raise ConfigError(f"{out} holds measurements of (device, statistic, classes, space) = {theirs}, not "
                              f"{(device, stat, str(num_classes), space.id)}; a file never mixes them: pass another --out")
    return rows


def _measure_chunk(session: DeviceSession, space: SearchSpace, chunk: list[SubnetConfig], cache: ModelCache,
                   stat: str, num_classes: int) -> list[dict]:
    by_id = {c.to_json(): c for c in chunk}
    jobs = [subnet_job(space, cfg, cache, session, num_classes) for cfg in chunk]
    anchor = network_anchor_job(space, cache, session, num_classes)
    rows = []
    for timing in session.measure(jobs, anchor):
        cfg, summary = by_id[timing.id], summarize(timing)
        value = summary.get(budget_column(stat))
        if value is None or not np.isfinite(value):
            raise DeviceError(f"the {session.spec.runner.kind} runner reports no {stat} for {cfg.arch_string(space)}; "
                              "pass --stat mean (the statistic it reports)")
        rows.append({"config": timing.id, "arch": cfg.arch_string(space), "r": cfg.r, "latency_ms": value,
                     "statistic": stat, "device": session.spec.name, "num_classes": num_classes, **summary,
                     "measured_at": now()})
    for path in {Path(job.model) for job in jobs}:
        path.unlink(missing_ok=True)  # whole networks are large; they are not needed again
    return rows
