"""Timing summaries with documented outlier rejection.

Rule (applied to the raw samples of one model): a sample is an outlier when
``|x - median| > max(3 * 1.4826 * MAD, 0.10 * median)``, i.e. further than three robust standard
deviations (the median-absolute-deviation analogue of a 3-sigma rule) *and* more than 10% away from
the median. The 10% floor keeps tightly clustered, slightly bimodal timings (common for sub-0.1 ms
blocks) from being cut in half. Timing noise on a shared CPU is one-sided (pre-emption, cache
eviction), so in practice this drops the rare long runs.
``median`` is taken over all samples; ``mean``, ``std``, ``min``, ``max`` and ``count`` over the kept ones;
``rejected`` counts the dropped ones. Runners that only report a summary (benchmark_model, trtexec)
are stored as given (their median may be missing: NaN).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from devices.parsers import Timing

OUTLIER_K = 3.0
OUTLIER_FLOOR = 0.10
OUTLIER_RULE = "|x - median| > max(3 * 1.4826 * MAD, 0.10 * median)"
MAD_TO_SIGMA = 1.4826
STAT_COLUMNS = ("mean_ms", "median_ms", "std_ms", "min_ms", "max_ms", "count", "rejected")


def summarize_samples(samples_ms: Sequence[float]) -> dict[str, float]:
    x = np.asarray(samples_ms, dtype=float)
    median = float(np.median(x))
    mad = float(np.median(np.abs(x - median)))
    limit = max(OUTLIER_K * MAD_TO_SIGMA * mad, OUTLIER_FLOOR * abs(median))
    keep = x[np.abs(x - median) <= limit]
    return {"mean_ms": float(keep.mean()), "median_ms": median, "std_ms": float(keep.std(ddof=1)) if len(keep) > 1 else 0.0,
            "min_ms": float(keep.min()), "max_ms": float(keep.max()), "count": int(len(keep)),
            "rejected": int(len(x) - len(keep))}


def summarize(timing: Timing) -> dict[str, float]:
    """Row statistics for one timing (raw samples or a runner's own summary)."""
    if timing.samples_ms:
        return summarize_samples(timing.samples_ms)
    s = timing.summary
    count = s.get("count", math.nan)
    return {"mean_ms": s["mean"], "median_ms": s.get("median", math.nan), "std_ms": s.get("std", math.nan),
            "min_ms": s.get("min", math.nan), "max_ms": s.get("max", math.nan),
            "count": int(count) if count == count else -1, "rejected": 0}
