"""How well each proxy ranks sub-networks by their measured accuracy, next to FLOPs and params."""

from __future__ import annotations

import math

import pandas as pd
from scipy.stats import kendalltau, spearmanr

from ofa.errors import ArtifactError
from ofa.search.proxies import PROXIES

BASELINES = ("mflops", "params_m")


def proxy_columns(table: pd.DataFrame) -> list[str]:
    return [name for name in PROXIES.names() if name in table.columns]


def correlations(table: pd.DataFrame, target: str = "top1") -> list[dict]:
    """Kendall tau and Spearman rho of every score column (FLOPs, params, each proxy) against ``target``.

    Baselines first, then proxies; ``kendall_p``: the two-sided p-value of tau = 0 (with 50 networks, |tau| under
    ~0.19 is within chance); ``seconds_per_net``: a proxy's mean time."""
    if target not in table.columns:
        raise ArtifactError(f"the proxy table has no measured {target!r} column: score the rows of an accuracy "
                            "table (`ofa proxy score --acc DIR`)")
    if len(table) < 3:
        raise ArtifactError(f"rank correlations need at least 3 scored sub-networks, the table has {len(table)}")
    rows = []
    for column in (*BASELINES, *proxy_columns(table)):
        values = table[column].astype(float)
        tau = kendalltau(values, table[target], nan_policy="omit")
        rho = spearmanr(values, table[target], nan_policy="omit").statistic
        seconds = table.get(f"{column}_s")
        rows.append({"score": column, "kendall_tau": _round(tau.statistic), "kendall_p": _round(tau.pvalue),
                     "spearman_rho": _round(rho),
                     "non_finite": int((~values.apply(math.isfinite)).sum()), "n": len(values),
                     "seconds_per_net": None if seconds is None else round(float(seconds.mean()), 4)})
    return rows


def _round(value: float) -> float | None:
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None
