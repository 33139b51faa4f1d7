"""Moved to :mod:`devices.stats` (timing statistics belong to the layer that measures); re-exported here."""

from devices.stats import (  # noqa: F401
    BUDGET_STATS,
    DEFAULT_BUDGET_STAT,
    MAD_TO_SIGMA,
    OUTLIER_FLOOR,
    OUTLIER_K,
    OUTLIER_RULE,
    PERCENTILES,
    STAT_COLUMNS,
    STEADY,
    budget_column,
    steady,
    summarize,
    summarize_samples,
)
