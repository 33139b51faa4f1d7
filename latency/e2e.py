"""End-to-end measurements of whole sub-networks (for calibration and validation), kept in ``e2e.csv``."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from devices.modelfile import model_job
from devices.runners import MeasureJob
from devices.session import DeviceSession
from devices.stats import STEADY, summarize
from latency.anchor import anchor_job, network_anchor_job
from latency.blocks import LutBlock
from latency.int8 import Int8Calibration
from latency.micro import ModelCache
from latency.table import E2E_FILE, LatencyTable, cut_off_rows, fill_missing_stats, now
from ofa.errors import ArtifactError, DeviceError
from ofa.io import atomic_write
from ofa.spaces import SearchSpace
from ofa.spaces.resnet import ResNetConfig
from ofa.subnet import SubnetConfig

log = logging.getLogger(__name__)
E2E_COLUMNS = ("config", "arch", "r", "purpose", "mean_ms", "median_ms", "std_ms", "min_ms", "max_ms", "count",
               "rejected", "anchor_ms", "p75_ms", "p90_ms", "p95_ms", "p99_ms", "measured_at", "anchor_kind",
               "anchor_median_ms")
#: ``anchor_kind`` of rows timed against the network anchor (:func:`latency.anchor.network_anchor`); rows of
#: older tables were timed against the table's block anchor ("block") or none ("")
NETWORK_ANCHOR, BLOCK_ANCHOR = "network", "block"


#: columns every end-to-end row must have a value in (and a whole ``measured_at``: see ``cut_off_rows``)
REQUIRED = ("config", "purpose", "mean_ms")


def load_e2e(directory: "str | Path") -> pd.DataFrame:
    """The end-to-end rows of a table directory (empty when there are none); :class:`ArtifactError` when the
    file is cut off or corrupt."""
    path = Path(directory) / E2E_FILE
    if not path.is_file():
        return pd.DataFrame(columns=list(E2E_COLUMNS))
    fix = (f"delete {path} (or its broken lines) and measure again with `ofa lut build ... --calibrate N` "
           "(it keeps the block table) or `ofa lut validate`")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"{path} is not a readable end-to-end table ({reason}); {fix}") from None
    _check_rows(frame, path, fix)
    frame = fill_missing_stats(frame)
    if "anchor_kind" not in frame.columns:  # written before network anchors: the table's block anchor or none
        frame["anchor_kind"] = np.where(frame["anchor_ms"].notna(), BLOCK_ANCHOR, "")
    frame["anchor_kind"] = frame["anchor_kind"].fillna("").astype(str)
    if "anchor_median_ms" not in frame.columns:  # written before the anchor's median was kept
        frame["anchor_median_ms"] = np.nan
    return frame


def _check_rows(frame: pd.DataFrame, path: Path, fix: str) -> None:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ArtifactError(f"{path} lacks column(s) {missing}; {fix}")
    broken = np.flatnonzero(cut_off_rows(frame, list(REQUIRED)))
    if len(broken):
        raise ArtifactError(f"{path}: data row(s) {(broken[:5] + 1).tolist()} are incomplete (a cut-off write?); {fix}")
    mean = pd.to_numeric(frame["mean_ms"], errors="coerce").to_numpy(float)
    bad = np.flatnonzero(~(np.isfinite(mean) & (mean > 0)))
    if len(bad):
        shown = frame["mean_ms"].iloc[bad[:5]].tolist()
        raise ArtifactError(f"{path}: data row(s) {(bad[:5] + 1).tolist()} have mean_ms {shown}; a timing must be a "
                            f"positive, finite number of ms; {fix}")


def save_e2e(directory: "str | Path", frame: pd.DataFrame) -> None:
    atomic_write(Path(directory) / E2E_FILE, lambda tmp: frame.to_csv(tmp, index=False))


def configs_of(frame: pd.DataFrame, space: SearchSpace) -> list[SubnetConfig]:
    """The configs of end-to-end rows (an OFA-ResNet space's: :class:`~ofa.spaces.resnet.ResNetConfig`)."""
    if not isinstance(space, SearchSpace):
        from ofa.spaces.resnet import ResNetConfig

        return [ResNetConfig.from_json(text, space) for text in frame["config"]]
    return [SubnetConfig.from_json(text, space) for text in frame["config"]]


def spread_sample(space: SearchSpace, resolutions: Sequence[int], n: int, seed: int,
                  score: Callable[[list[SubnetConfig]], np.ndarray], pool_factor: int = 20) -> list[SubnetConfig]:
    """``n`` random configs spread evenly over the range of ``score`` (e.g. predicted latency).

    Draws ``pool_factor * n`` uniform configs, sorts them by score, and takes evenly spaced ranks, so
    small and large networks are both represented (uniform sampling crowds the middle).
    """
    rng = random.Random(seed)
    pool = list({c.canonical(space): None for c in (SubnetConfig.sample(space, rng, r=tuple(resolutions))
                                                     for _ in range(pool_factor * n))})
    return evenly_ranked(pool, n, score)


def evenly_ranked(pool: list, n: int, score: Callable[[list], np.ndarray]) -> list:
    """``n`` members of ``pool`` at evenly spaced ranks of ``score`` (the lowest and highest included)."""
    order = np.argsort(score(pool), kind="stable")
    picks = np.unique(np.linspace(0, len(pool) - 1, n).round().astype(int))
    return [pool[order[i]] for i in picks]


def even_shares(n: int, parts: int) -> list[int]:
    """``n`` split into ``parts`` counts differing by at most one (the first ones larger)."""
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def measure_subnets(session: DeviceSession, space: SearchSpace, configs: Sequence[SubnetConfig], directory: "str | Path",
                    purpose: str, num_classes: int = 1000, on_progress: Optional[Callable[[int, int], None]] = None,
                    chunk_size: int = 10, anchor: "LutBlock | SubnetConfig | ResNetConfig | None" = None,
                    calibration: Optional[Int8Calibration] = None) -> pd.DataFrame:
    """Measure configs end to end (skipping ones already in ``e2e.csv`` for this purpose); returns their rows.

    ``anchor``: the drift anchor timed between rounds: a network (:func:`latency.anchor.e2e_anchor`; rows say
    ``anchor_kind`` "network") or a table block (``"block"``).
    On an int8 device the networks are int8 too, calibrated on ``calibration`` (the table's:
    :meth:`~latency.int8.Int8Calibration.of_manifest`).
    """
    directory = Path(directory)
    frame = load_e2e(directory)
    have = set(frame.loc[frame["purpose"] == purpose, "config"])
    todo = [c for c in configs if c.to_json() not in have]
    cache = ModelCache.for_session(directory / "models", session, calibration)
    if anchor is None or isinstance(anchor, LutBlock):
        anchor_j, kind = anchor_job(anchor, space, cache, session), BLOCK_ANCHOR
    else:  # a sub-network config
        anchor_j, kind = network_anchor_job(space, cache, session, num_classes, anchor), NETWORK_ANCHOR
    kind = kind if anchor_j is not None else ""
    total = len(configs)
    for start in range(0, len(todo), chunk_size):
        if on_progress:
            on_progress(total - len(todo) + start, total)
        chunk = {c.to_json(): c for c in todo[start:start + chunk_size]}
        jobs = [subnet_job(space, cfg, cache, session, num_classes) for cfg in chunk.values()]
        rows = []
        try:
            for timing in session.measure(jobs, anchor_j):
                cfg = chunk[timing.id]
                rows.append({"config": timing.id, "arch": cfg.arch_string(space), "r": cfg.r, "purpose": purpose,
                             **summarize(timing), "measured_at": now(), "anchor_kind": kind,
                             "anchor_median_ms": float(np.median(timing.anchor_samples_ms)) if timing.anchor_samples_ms
                             else np.nan})
        finally:
            if rows:
                frame = pd.concat([frame, pd.DataFrame(rows, columns=list(E2E_COLUMNS))], ignore_index=True)
                save_e2e(directory, frame)
    if on_progress:
        on_progress(total, total)
    wanted = {c.to_json() for c in configs}
    result = frame[(frame["purpose"] == purpose) & frame["config"].isin(wanted)].drop_duplicates("config", keep="last")
    if len(result) < len(wanted):
        raise DeviceError(f"only {len(result)}/{len(wanted)} sub-networks were measured end to end")
    order = {text: i for i, text in enumerate(c.to_json() for c in configs)}
    return result.sort_values("config", key=lambda s: s.map(order)).reset_index(drop=True)


def subnet_job(space: SearchSpace, cfg: SubnetConfig, cache: ModelCache, session: DeviceSession, num_classes: int) -> MeasureJob:
    return model_job(cfg.to_json(), cache.subnet(space, cfg, num_classes), (1, 3, cfg.r, cfg.r), session.layout)


def network_anchored(rows: pd.DataFrame) -> np.ndarray:
    """Which rows were timed against the network anchor (and have its timing)."""
    if "anchor_kind" not in rows.columns:
        return np.zeros(len(rows), bool)
    return (rows["anchor_kind"].to_numpy(str) == NETWORK_ANCHOR) & np.isfinite(rows["anchor_ms"].to_numpy(float))


def calibration_network_rows(directory: "str | Path") -> pd.DataFrame:
    """The table's calibration rows timed against the network anchor (the device's state the calibrated sum is
    fitted in)."""
    stored = load_e2e(directory)
    return stored[(stored["purpose"] == "calibration").to_numpy() & network_anchored(stored)]


def network_reference_ms(calib: pd.DataFrame, rows: pd.DataFrame, column: str = "anchor_ms") -> float:
    """The network-anchor timing (``column``) end-to-end values are rescaled to: its median over the table's
    network-anchored calibration rows ``calib`` (:func:`calibration_network_rows`), else over ``rows``' own."""
    source = calib if len(calib) else rows[network_anchored(rows)]
    return float(np.median(source[column].to_numpy(float)))


def anchor_column(calib: pd.DataFrame, rows: pd.DataFrame, stat: str) -> str:
    """Which anchor statistic compensates ``stat``: the anchor's median for the median and the other statistics
    of all runs (a burst of load in the rounds lifts both medians, while the anchor's fastest run stays clean);
    its fastest run for the minimum and the steady statistic. Rows measured before the anchor's median was kept
    (or a table whose calibration rows ``calib`` lack it) use the fastest run throughout."""
    if stat in (STEADY, "min_ms"):
        return "anchor_ms"
    have = [frame.loc[network_anchored(frame), "anchor_median_ms"].to_numpy(float) for frame in (calib, rows)
            if "anchor_median_ms" in frame.columns]
    return "anchor_median_ms" if len(have) == 2 and all(np.isfinite(h).all() for h in have) else "anchor_ms"


def e2e_values(table: LatencyTable, rows, stat: Optional[str] = None) -> np.ndarray:
    """The table's statistic of end-to-end rows; refuses rows measured under another protocol.

    Rows timed against the network anchor are rescaled to the device's state at calibration
    (``value * reference / anchor``, :func:`network_reference_ms`, with the anchor statistic of
    :func:`anchor_column`; the steady statistic from their minimum), so networks timed minutes apart, in other
    processes, compare on one footing."""
    stat = stat or table.stat
    values = np.array(table.column(rows, stat), dtype=float)
    network = network_anchored(rows)
    if network.any():
        raw = table.column(rows, "min_ms" if stat == STEADY else stat)
        calib = calibration_network_rows(table.directory)
        column = anchor_column(calib, rows, stat)
        reference = network_reference_ms(calib, rows, column)
        values[network] = raw[network] * reference / rows[column].to_numpy(float)[network]
    if np.isnan(values).any():
        raise ArtifactError(f"{table.directory}/e2e.csv has end-to-end rows without {stat} (measured by an older "
                            f"version); delete that file and run `ofa lut build ... --calibrate 20` / `ofa lut validate`"
                            " again")
    return values
