"""``ofa device measure``: time N sampled sub-networks end to end on a device, into a measurement file.

The sample is stratified so that few measurements inform a fitted predictor the most. A large
uniform pool is split into cells of resolution x total depth (thirds of its range) x MACs (thirds of
the range within each resolution), and each pick comes from the cell whose margins are least used, so
20 networks already cover every resolution, shallow and deep, light and heavy. The two extremes (smallest network at the lowest resolution,
largest at the highest) come first: a linear fit extrapolates badly, and they bound the range the
search explores. Uniform sampling instead crowds the middle (the sum of many random choices).

Each chunk of networks is timed with the device's runner (warm-up, repeats, passes, and the drift
anchor between rounds where the runner can: the same path as ``ofa lut validate``), and its rows
are written at once (the whole file rewritten atomically), so a killed run keeps every finished
network and a re-run with the same arguments measures only the missing ones. Up to n = 200 the
sample of a smaller ``--n`` is the start of a larger one's: measuring 20, fitting, then asking for
50 adds 30 networks.
"""

from __future__ import annotations

import logging
import random
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from devices.modelfile import model_job
from devices.session import DeviceSession
from devices.stats import budget_column, summarize
from latency.anchor import ANCHOR_JOB_ID
from latency.e2e import subnet_job
from latency.features import FEATURES
from latency.index import BlockIndex
from latency.measurements import read_measurement_rows, write_measurement_rows
from latency.micro import ModelCache
from latency.predictors import feature_map
from latency.table import now
from ofa.errors import ConfigError, DeviceError
from ofa.locks import directory_lock
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

log = logging.getLogger(__name__)
POOL_FACTOR = 30  # uniform draws per wanted network, and at least POOL_MIN: the pool (and so the order of
POOL_MIN = 6000  # the picks) does not depend on n up to 200, so a re-run with a larger --n extends the sample
BINS = 3  # equal-width thirds of depth and of MACs


def network_macs(space: SearchSpace, resolutions: Sequence[int], ks, es, ds, rs, num_classes: int = 1000) -> np.ndarray:
    """Dense + depthwise MACs (millions) of configs given as value arrays, from the per-block analytic features."""
    index = BlockIndex(space, resolutions, num_classes)
    sums = index.sum(index.gather(feature_map(index), len(FEATURES)), index.encode_arrays(ks, es, ds, rs))
    return sums[:, FEATURES.index("dense_mmacs")] + sums[:, FEATURES.index("dw_mmacs")]


def stratified_sample(space: SearchSpace, resolutions: Sequence[int], n: int, seed: int = 0,
                      num_classes: int = 1000) -> list[SubnetConfig]:
    """``n`` distinct configs spread over resolution x depth x MACs cells (see the module docstring)."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    ks, es, ds, rs = _uniform_pool(space, sorted(resolutions), max(POOL_MIN, POOL_FACTOR * n), seed)
    macs = network_macs(space, sorted(resolutions), ks, es, ds, rs, num_classes)
    depth = ds.sum(axis=1)
    depth_bin = _thirds(depth, depth)
    macs_bin = np.zeros(len(rs), int)
    for r in np.unique(rs):
        macs_bin[rs == r] = _thirds(macs[rs == r], macs[rs == r])
    cells: dict[tuple, list[int]] = {}
    for i in range(2, len(rs)):  # 0 and 1 are the extremes, picked first
        cells.setdefault((int(rs[i]), int(depth_bin[i]), int(macs_bin[i])), []).append(i)
    picks = ([0, 1] + _balanced_picks(cells, n - 2, random.Random(seed)))[:n]
    return [SubnetConfig(space.id, tuple(map(int, ks[i])), tuple(map(int, es[i])), tuple(map(int, ds[i])), int(rs[i]))
            for i in picks]


def _uniform_pool(space: SearchSpace, resolutions: list[int], size: int, seed: int):
    """Distinct canonical configs as value arrays (ks, es, ds, rs): the two extremes, then ``size`` uniform draws."""
    rng = np.random.default_rng(seed)
    slots, stages = space.n_block_slots, space.n_stages
    extremes = [SubnetConfig.smallest(space, resolutions[0]), SubnetConfig.largest(space, resolutions[-1])]
    ks = np.vstack([[c.ks for c in extremes], rng.choice(space.ks_choices, (size, slots))])
    es = np.vstack([[c.e for c in extremes], rng.choice(space.e_choices, (size, slots))])
    ds = np.vstack([[c.d for c in extremes], rng.choice(space.d_choices, (size, stages))])
    rs = np.concatenate([[c.r for c in extremes], rng.choice(resolutions, size)])
    active = space.active_mask(ds)
    ks, es = np.where(active, ks, min(space.ks_choices)), np.where(active, es, min(space.e_choices))
    _, first = np.unique(np.column_stack([rs, ds, ks, es]), axis=0, return_index=True)
    keep = np.sort(first)  # first occurrences, in draw order: the extremes stay at 0 and 1
    return ks[keep], es[keep], ds[keep], rs[keep]


def _thirds(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Which third of the *range* of ``reference`` holds each value: equal widths, not equal counts, so the rare
    shallow/deep and light/heavy networks get as many picks as the crowded middle (they anchor a linear fit)."""
    edges = np.linspace(float(reference.min()), float(reference.max()), BINS + 1)[1:-1]
    return np.searchsorted(edges, values, side="right")


def _balanced_picks(cells: dict[tuple, list[int]], n: int, rng: random.Random) -> list[int]:
    """``n`` pool indices, each from the cell whose resolution, depth and MACs bins have been picked least so far
    (ties at random), so every margin stays even however small ``n`` is."""
    members = {key: rng.sample(items, len(items)) for key, items in sorted(cells.items())}
    keys = rng.sample(sorted(members), len(members))
    used: dict = {}
    picks: list[int] = []
    while len(picks) < n and any(members.values()):
        def load(key: tuple) -> tuple:
            margins = sum(used.get((axis, key[axis]), 0) for axis in range(3))
            return (used.get(key, 0), margins)

        key = min((k for k in keys if members[k]), key=load)
        picks.append(members[key].pop())
        for counter in [key] + [(axis, key[axis]) for axis in range(3)]:
            used[counter] = used.get(counter, 0) + 1
    return picks


def measure_to_file(device: str, space: SearchSpace, n: int, out: "str | Path", resolutions: Optional[Sequence[int]] = None,
                    seed: int = 0, num_classes: int = 1000, stat: Optional[str] = None,
                    on_progress: Optional[Callable[[int, int], None]] = None) -> list[dict]:
    """Measure ``n`` stratified configs end to end on ``device`` into the CSV ``out`` (resumable); its rows."""
    configs = stratified_sample(space, sorted(resolutions or space.resolutions), n, seed, num_classes)
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


def network_anchor(space: SearchSpace) -> SubnetConfig:
    """The drift anchor of end-to-end measurements: the middle network (middle kernel, expand, depth and
    resolution). A whole network, not the tables' one small block: on a shared machine the slowdowns
    that matter here come from a neighbour's use of the shared cache and memory, which a block that
    fits in the core's own cache does not feel (measured: a 0.04 ms block's timings did not follow the
    networks' drift, r = -0.04)."""
    return SubnetConfig.middle(space)


def network_anchor_job(space: SearchSpace, cache: ModelCache, session: DeviceSession, num_classes: int):
    """The anchor as this session's measurement job (None when the runner times no anchor)."""
    if not session.uses_anchor:
        return None
    cfg = network_anchor(space)
    return model_job(ANCHOR_JOB_ID, cache.subnet(space, cfg, num_classes), (1, 3, cfg.r, cfg.r), session.layout)


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
