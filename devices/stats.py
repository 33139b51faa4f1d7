"""Timing summaries with documented outlier rejection.

Rule (applied to the raw samples of one model): a sample is an outlier when
``|x - median| > max(3 * 1.4826 * MAD, 0.10 * median)``, i.e. further than three robust standard
deviations (the median-absolute-deviation analogue of a 3-sigma rule) *and* more than 10% away from
the median. The 10% floor keeps tightly clustered, slightly bimodal timings (common for sub-0.1 ms
blocks) from being cut in half. Timing noise on a shared CPU is one-sided (pre-emption, cache
eviction), so in practice this drops the rare long runs.
``median`` and ``min`` are taken over all samples (a run cannot be faster than the hardware allows, so
the fastest sample is never an artefact); ``mean``, ``std``, ``max`` and ``count`` over the kept ones;
``rejected`` counts the dropped ones. Runners that only report a summary (benchmark_model, trtexec)
are stored as given (their median may be missing: NaN).

Drift compensation (``steady_ms``, the statistic new tables predict with). On a shared or throttling
device the mean and median of a model wander by tens of percent from one minute to the next (a
neighbour's load, clock and thermal state), far beyond a +-10% prediction target. Two things make a
timing repeatable: the *minimum* (the one-sided noise only ever adds time), and a fixed *anchor*
model timed in rounds between the model's own runs (``anchor_ms`` = the anchor's minimum at that
moment). ``steady_ms = min_ms * anchor_ref_ms / anchor_ms`` rescales each model to the state in
which the anchor ran at ``anchor_ref_ms`` -- the fastest the anchor ran while the table was built,
i.e. the quiet device. Measured on the project's 2-core cloud VM: 100 OFA-MBv3 sub-networks timed
twice a few minutes apart (the second time beside a competing CPU load for its first minute) agreed
within +-10% for 39% of them by the median of 50 runs, 81% by the minimum, 93% by the anchored minimum.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from devices.parsers import Timing
from devices.spec import LatencyStat

OUTLIER_K = 3.0
OUTLIER_FLOOR = 0.10
OUTLIER_RULE = "|x - median| > max(3 * 1.4826 * MAD, 0.10 * median)"
MAD_TO_SIGMA = 1.4826
PERCENTILES = (75, 90, 95, 99)  # taken over all samples, like the median
STAT_COLUMNS = ("mean_ms", "median_ms", "std_ms", "min_ms", "max_ms", "count", "rejected", "anchor_ms") + tuple(
    f"p{q}_ms" for q in PERCENTILES)
STEADY = "steady_ms"  # derived: min_ms * anchor_ref_ms / anchor_ms (see the module docstring)
#: statistics a latency budget may be declared in: what a user's plain timing loop reports
BUDGET_STATS = {name: f"{name}_ms" for name in LatencyStat.__args__}
DEFAULT_BUDGET_STAT = "median"


def budget_column(stat: str) -> str:
    """The table column of a declared budget statistic (``median``, ``mean``, ``p90`` ...)."""
    if stat not in BUDGET_STATS:
        from ofa.errors import ConfigError

        raise ConfigError(f"unknown latency statistic {stat!r}; a budget is declared in one of {list(BUDGET_STATS)} "
                          "(of plain timed runs; median is the default)")
    return BUDGET_STATS[stat]


def summarize_samples(samples_ms: Sequence[float]) -> dict[str, float]:
    x = np.asarray(samples_ms, dtype=float)
    median = float(np.median(x))
    mad = float(np.median(np.abs(x - median)))
    limit = max(OUTLIER_K * MAD_TO_SIGMA * mad, OUTLIER_FLOOR * abs(median))
    keep = x[np.abs(x - median) <= limit]
    return {"mean_ms": float(keep.mean()), "median_ms": median, "std_ms": float(keep.std(ddof=1)) if len(keep) > 1 else 0.0,
            "min_ms": float(x.min()), "max_ms": float(keep.max()), "count": int(len(keep)),
            "rejected": int(len(x) - len(keep)), **{f"p{q}_ms": float(np.percentile(x, q)) for q in PERCENTILES}}


def summarize(timing: Timing) -> dict[str, float]:
    """Row statistics for one timing (raw samples or a runner's own summary), with its anchor's minimum."""
    anchor = {"anchor_ms": float(min(timing.anchor_samples_ms)) if timing.anchor_samples_ms else math.nan}
    if timing.samples_ms:
        return summarize_samples(timing.samples_ms) | anchor
    s = timing.summary
    count = s.get("count", math.nan)
    return {"mean_ms": s["mean"], "median_ms": s.get("median", math.nan), "std_ms": s.get("std", math.nan),
            "min_ms": s.get("min", math.nan), "max_ms": s.get("max", math.nan),
            "count": int(count) if count == count else -1, "rejected": 0,
            **{f"p{q}_ms": s.get(f"p{q}", math.nan) for q in PERCENTILES}} | anchor


def steady(min_ms: np.ndarray, anchor_ms: np.ndarray, anchor_ref_ms: float) -> np.ndarray:
    """Drift-compensated timings (see the module docstring); NaN where a row has no anchor."""
    return np.asarray(min_ms, float) * anchor_ref_ms / np.asarray(anchor_ms, float)
