"""``ofa latency fit``: choose a model family by cross-validation and save the fitted predictor.

Each candidate family (:mod:`latency.fit_features`) is fitted on the *relative* error (rows weighted
by 1 / measured), since the goal is a share within +-10 % and a plain fit lets the slowest networks
decide. ``analytic`` is fitted non-negative (scipy's NNLS); the others by ridge regression with the
penalty chosen by generalised cross-validation (scikit-learn's ``RidgeCV``), on columns scaled to unit
size. Each family is scored by repeated K-fold cross-validation (no network predicts itself); the one
with the lowest relative RMSE wins, among those whose fitted table predicts a positive latency for every
network of the space. The same seed gives the same folds and so the same choice.

Not among the candidates, and why: a fit on log latency and gradient boosting are not sums over
blocks; the search relies on that to score populations in microseconds and to know the exact
fastest network (its fail-fast infeasibility check).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from latency.fit_features import DEFAULT_FAMILIES, FAMILIES, NON_NEGATIVE, feature_tables
from latency.fitted import FittedLatencyPredictor
from latency.index import BlockIndex
from latency.measurements import Measurements
from latency.table import now, tool_version
from latency.validate import metrics
from ofa.errors import ArtifactError, ConfigError
from ofa.locks import directory_lock

log = logging.getLogger(__name__)
MIN_MEASUREMENTS = 8
K_FOLDS, REPEATS = 5, 3
ALPHAS = np.logspace(-4, 3, 15)
QUANTILES = (50, 68, 90, 95)


def design(tables, index: BlockIndex, configs) -> np.ndarray:
    return index.sum(tables, index.encode(list(configs)))


def fit_family(family: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """``(coef, intercept)`` of one family on design ``x`` and latency ``y``, minimising the relative error."""
    w = 1.0 / y
    if family in NON_NEGATIVE:
        from scipy.optimize import nnls

        xc = np.column_stack([x, np.ones(len(y))]) * w[:, None]
        scale = np.maximum(np.abs(xc).max(axis=0), 1e-12)  # column scaling keeps nnls well conditioned
        coef = nnls(xc / scale, np.ones(len(y)))[0] / scale
        return coef[:-1], float(coef[-1])
    from sklearn.linear_model import RidgeCV

    scale = np.sqrt(np.mean(x ** 2, axis=0))
    scale[scale == 0] = 1.0
    model = RidgeCV(alphas=ALPHAS, fit_intercept=True).fit(x / scale, y, sample_weight=w ** 2)
    return model.coef_ / scale, float(model.intercept_)


def cross_validate(family: str, x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Out-of-fold predictions, ``(REPEATS, n)``: each repeat a fresh K-fold split of the seed."""
    k = min(K_FOLDS, len(y))
    out = np.zeros((REPEATS, len(y)))
    for rep in range(REPEATS):
        folds = np.random.default_rng(seed + rep).permutation(len(y)) % k
        for fold in range(k):
            test = folds == fold
            coef, intercept = fit_family(family, x[~test], y[~test])
            out[rep, test] = x[test] @ coef + intercept
    return out


def choose_family(data: Measurements, index: BlockIndex, families: Sequence[str], seed: int,
                  reference: Optional[dict] = None) -> dict:
    """Cross-validated scores of every family, the fitted tables, and the chosen family."""
    y = data.latency_ms
    results = {}
    for family in families:
        tables, names = feature_tables(index, family, reference)
        x = design(tables, index, data.configs)
        cv = cross_validate(family, x, y, seed)
        scores = [metrics(p, y) for p in cv]
        summary = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
        coef, intercept = fit_family(family, x, y)
        base, block = tables[0] @ coef + intercept, tables[1] @ coef
        minimum = index.additive(base, block).minimum()[0]
        results[family] = {"cv": summary, "features": names, "coef": coef, "intercept": intercept, "base": base,
                           "block": block, "min_predicted_ms": minimum, "cv_pred": cv, "valid": bool(minimum > 0)}
    valid = [f for f in families if results[f]["valid"]]
    if not valid:
        raise ConfigError(f"every family predicts a non-positive latency for some network ({families}); "
                          "measure more networks, spread over the space (`ofa device measure` samples them so)")
    return {"families": results, "chosen": one_standard_error_choice(results, valid, y)}


def one_standard_error_choice(results: dict, valid: list[str], y: np.ndarray) -> str:
    """The family with the fewest features whose out-of-fold squared relative error is not above the best
    family's by more than one standard error of their paired per-network difference."""
    err = {f: np.mean((results[f]["cv_pred"] / y[None, :] - 1) ** 2, axis=0) for f in valid}
    best = min(valid, key=lambda f: (err[f].mean(), valid.index(f)))
    for family in sorted(valid, key=lambda f: (len(results[f]["features"]), valid.index(f))):
        diff = err[family] - err[best]  # at least MIN_MEASUREMENTS networks
        if diff.mean() <= diff.std(ddof=1) / np.sqrt(len(diff)):
            return family
    return best


def uncertainty(cv_pred: np.ndarray, y: np.ndarray) -> dict:
    """Quantiles of the absolute out-of-fold relative error; ``rel_std`` = the 68th (about one sigma)."""
    rel = np.abs(cv_pred / y[None, :] - 1).ravel()
    q = {f"abs_rel_err_p{p}": float(np.percentile(rel, p)) for p in QUANTILES}
    return q | {"rel_std": q["abs_rel_err_p68"], "coverage_1std": float(np.mean(rel <= q["abs_rel_err_p68"])),
                "coverage_2std": float(np.mean(rel <= 2 * q["abs_rel_err_p68"]))}


def fit_predictor(data: Measurements, space, out_dir: "str | Path", families: Sequence[str] = DEFAULT_FAMILIES,
                  seed: int = 0, num_classes: Optional[int] = None, device: Optional[str] = None,
                  reference: Optional[dict] = None) -> tuple[FittedLatencyPredictor, dict]:
    """Choose, fit and save (under the directory's write lock) a predictor for ``data``."""
    model, report = fit_model(data, space, families, seed, num_classes, device, reference)
    with directory_lock(out_dir, "latency-fit", "two fits would overwrite each other's weights and manifest"):
        model.save(out_dir, report)
    return model, report


def fit_model(data: Measurements, space, families: Sequence[str] = DEFAULT_FAMILIES, seed: int = 0,
              num_classes: Optional[int] = None, device: Optional[str] = None,
              reference: Optional[dict] = None) -> tuple[FittedLatencyPredictor, dict]:
    """The chosen family's predictor for ``data`` (in memory) and the cross-validated report."""
    families = list(dict.fromkeys(families))
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown or not families:
        raise ConfigError(f"unknown model family {unknown or families}; valid: {list(FAMILIES)}")
    if "reference" in families and reference is None:
        raise ConfigError("family 'reference' needs --reference-lut (a latency table of the same space)")
    if len(data) < MIN_MEASUREMENTS:
        raise ConfigError(f"fitting needs at least {MIN_MEASUREMENTS} measured sub-networks, got {len(data)}")
    low, high = min(data.resolutions), max(data.resolutions)  # interpolates between measured resolutions only
    covered = [r for r in space.resolutions if low <= r <= high]
    if reference is not None:  # the reference family reads the table's blocks: only its resolutions can be covered
        profiled = {ident[0] for ident in reference}
        missing = sorted(set(data.resolutions) - profiled)
        if missing:
            raise ConfigError(f"the reference table has no blocks at the measured resolutions {missing} (it has "
                              f"{sorted(profiled)}); build it there, or leave out --reference-lut")
        covered = [r for r in covered if r in profiled]
    index = BlockIndex(space, covered, num_classes or data.num_classes or 1000)
    try:
        result = choose_family(data, index, families, seed, reference)
    except KeyError as exc:
        raise ArtifactError(f"the reference table lacks block {exc.args[0]} of the networks measured (resolutions "
                            f"{list(index.resolutions)}, a {index.num_classes}-class head); build it at those "
                            f"resolutions, or pass the measured networks' --num-classes") from None
    best = result["families"][result["chosen"]]
    spread = uncertainty(best["cv_pred"], data.latency_ms)
    manifest = {"tool_version": tool_version(), "created": now(), "statistic": data.statistic,
                "family": result["chosen"], "features": best["features"],
                "coef": dict(zip(best["features"], np.asarray(best["coef"]).tolist())) | {"intercept": best["intercept"]},
                "uncertainty": spread, "n_measurements": len(data), "inputs": data.inputs,
                "device": device or data.device, "seed": seed, "cv": best["cv"],
                "drift_reference_ms": data.drift_reference_ms}
    model = FittedLatencyPredictor(index, best["base"], best["block"], spread["rel_std"], manifest)
    return model, _report(data, index, result, spread, seed)


def _report(data: Measurements, index: BlockIndex, result: dict, spread: dict, seed: int) -> dict:
    families = {name: r["cv"] | {"min_predicted_ms": r["min_predicted_ms"], "valid": r["valid"],
                                 "n_features": len(r["features"])} for name, r in result["families"].items()}
    return {"chosen": result["chosen"], "drift_reference_ms": data.drift_reference_ms,
            "how": f"{REPEATS} x {min(K_FOLDS, len(data))}-fold cross-validation "
            f"(seed {seed}), relative-error fits; the simplest family within one standard error of the lowest "
            "relative MSE wins", "statistic": data.statistic,
            "n": len(data), "resolutions": list(index.resolutions), "families": families, "uncertainty": spread,
            "measured_ms": {"min": float(data.latency_ms.min()), "max": float(data.latency_ms.max())}}


def score_predictor(model, data: Measurements) -> dict:
    """A held-out report (``ofa lut validate``'s metrics) of ``model`` on measurements it was not fitted on,
    with how often the measured value lies within the predicted +-1 and +-2 std."""
    stat = getattr(model, "manifest", {}).get("statistic")
    if stat and stat != data.statistic:
        raise ConfigError(f"the predictor predicts the {stat} but the measurements are {data.statistic}s")
    pred = model.predict(data.configs)
    err = np.abs(pred.mean_ms - data.latency_ms)
    return metrics(pred.mean_ms, data.latency_ms) | {
        "n": len(data), "statistic": data.statistic, "within_1std": float(np.mean(err <= pred.std_ms)),
        "within_2std": float(np.mean(err <= 2 * pred.std_ms))}
