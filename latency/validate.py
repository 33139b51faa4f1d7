"""``ofa lut validate``: measure sub-networks end to end and score every predictor against them.

An OFA-ResNet table is validated the same way with its own predictors (:mod:`latency.resnet_predictor`: block
sum, calibrated sum); the fitted end-to-end predictor is MobileNetV3-family only and is left out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from devices.session import DeviceSession
from devices.stats import budget_column
from latency.anchor import e2e_anchor
from latency.api import e2e_values
from latency.e2e import (
    calibration_network_rows,
    configs_of,
    load_e2e,
    measure_subnets,
    network_anchored,
    network_reference_ms,
    spread_sample,
)
from latency.int8 import Int8Calibration
from latency.lock import lut_lock
from latency.predictors import BlockSumPredictor, CalibratedSumPredictor, FittedE2EPredictor, LatencyPredictor
from latency.table import REPORT_FILE, LatencyTable, now
from ofa.errors import ConfigError
from ofa.io import atomic_write, atomic_write_json
from ofa.spaces import SearchSpace
from ofa.subnet import SubnetConfig

log = logging.getLogger(__name__)
K_FOLDS = 5


def metrics(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Share within +-5%/+-10%, RMSE (ms and % of measured), mean bias %, Spearman and Kendall."""
    from scipy.stats import kendalltau, spearmanr

    rel = (pred - true) / true
    return {"within_5pct": float(np.mean(np.abs(rel) <= 0.05)), "within_10pct": float(np.mean(np.abs(rel) <= 0.10)),
            "rmse_ms": float(np.sqrt(np.mean((pred - true) ** 2))), "rmse_pct": float(100 * np.sqrt(np.mean(rel ** 2))),
            "mean_bias_pct": float(100 * rel.mean()), "max_abs_err_pct": float(100 * np.abs(rel).max()),
            "spearman": float(spearmanr(pred, true).statistic), "kendall": float(kendalltau(pred, true).statistic)}


def cross_validated(fit: Callable[[list[int]], LatencyPredictor], configs: list[SubnetConfig], seed: int) -> np.ndarray:
    """Predictions for each config from a model fitted on the other folds (no config predicts itself)."""
    folds = np.random.default_rng(seed).permutation(len(configs)) % K_FOLDS
    out = np.zeros(len(configs))
    for k in range(K_FOLDS):
        test = np.flatnonzero(folds == k)
        model = fit([i for i in range(len(configs)) if folds[i] != k])
        out[test] = model.predict([configs[i] for i in test]).mean_ms
    return out


def validate_lut(lut_dir: "str | Path", device=None, n: int = 100, seed: int = 1,
                 on_progress: Optional[Callable[[int, int], None]] = None, session: Optional[DeviceSession] = None) -> dict:
    """Measure ``n`` sub-networks spread over the latency range and report each predictor's accuracy.

    Holds the table's write lock while it measures (a concurrent build or calibration fails fast)."""
    table = LatencyTable.load(lut_dir)
    space = table.space()
    if n < 2 * K_FOLDS:
        raise ConfigError(f"validation needs at least {2 * K_FOLDS} sub-networks (--n), got {n}")
    if isinstance(space, SearchSpace):
        block_sum = BlockSumPredictor.from_table(table)
        configs = spread_sample(space, table.resolutions, n, seed, lambda cs: block_sum.predict(cs).mean_ms)
    else:  # OFA-ResNet
        from latency.resnet_predictor import ResNetBlockSumPredictor, spread_resnet_sample

        block_sum = ResNetBlockSumPredictor.from_table(table)
        configs = spread_resnet_sample(block_sum, n, seed)
    device = device or table.manifest["device"]["device"]
    if session is None:
        with DeviceSession(device) as live:
            return validate_lut(lut_dir, device, n, seed, on_progress, live)
    with lut_lock(lut_dir):  # it appends end-to-end rows: one writer per table (re-entrant for the builder)
        return _measure_and_score(table, space, block_sum, configs, lut_dir, seed, on_progress, session)


def _measure_and_score(table: LatencyTable, space: SearchSpace, block_sum: BlockSumPredictor,
                       configs: list[SubnetConfig], lut_dir: "str | Path", seed: int,
                       on_progress: Optional[Callable[[int, int], None]], session: DeviceSession) -> dict:
    rows = measure_subnets(session, space, configs, lut_dir, "validation", table.num_classes, on_progress,
                           anchor=e2e_anchor(table, space), calibration=Int8Calibration.of_manifest(table.manifest))
    report = score(table, space, block_sum, configs, e2e_values(table, rows, budget_column(table.budget_stat)), seed)
    report |= {"drift": drift_summary(table, rows)}
    report |= {"device": session.fingerprint(), "n": len(configs), "seed": seed, "created": now()}
    atomic_write_json(Path(lut_dir) / REPORT_FILE, report)
    return report


def score(table: LatencyTable, space: SearchSpace, block_sum: BlockSumPredictor, configs: list[SubnetConfig],
          measured: np.ndarray, seed: int) -> dict:
    """Metrics of every predictor; fitted ones are scored out of sample (held-out or cross-validated)."""
    calib = load_e2e(table.directory)
    calib = calib[calib["purpose"] == "calibration"].drop_duplicates("config", keep="last")
    calib_cfgs, calib_y = configs_of(calib, space), e2e_values(table, calib, budget_column(table.budget_stat))
    calibrated_fit = CalibratedSumPredictor.fit
    if not isinstance(space, SearchSpace):  # OFA-ResNet
        from latency.resnet_predictor import ResNetCalibratedSum

        calibrated_fit = ResNetCalibratedSum.fit
    preds = {"block_sum": block_sum.predict(configs).mean_ms}
    notes = {"block_sum": "no end-to-end data used"}

    def train(idx: list[int]) -> tuple[list[SubnetConfig], np.ndarray]:
        """A cross-validation fold's training set: its validation networks + every calibration network."""
        return [configs[i] for i in idx] + calib_cfgs, np.concatenate([measured[idx], calib_y])

    calibrated_cv = cross_validated(lambda idx: calibrated_fit(block_sum, *train(idx)), configs, seed)
    if len(calib_cfgs):
        model = calibrated_fit(block_sum, calib_cfgs, calib_y)
        preds["calibrated_sum"], notes["calibrated_sum"] = model.predict(configs).mean_ms, (
            f"fitted on {len(calib_cfgs)} separate calibration sub-networks measured at build time")
        preds["calibrated_sum_all"] = calibrated_cv
        notes["calibrated_sum_all"] = (f"{K_FOLDS}-fold cross-validated; calibration sub-networks always in the "
                                       f"training folds (what load_predictor fits once validation data exists)")
    else:
        preds["calibrated_sum"] = calibrated_cv
        notes["calibrated_sum"] = f"{K_FOLDS}-fold cross-validated on the validation set (no calibration data)"
    if isinstance(space, SearchSpace):  # analytic features of MobileNetV3-family blocks
        preds["fitted_e2e"] = cross_validated(
            lambda idx: FittedE2EPredictor.fit(space, table.resolutions, *train(idx), table.num_classes), configs, seed)
        notes["fitted_e2e"] = f"{K_FOLDS}-fold cross-validated; calibration sub-networks always in the training folds"
    _save_predictions(table.directory, configs, measured, preds)
    return {"lut": str(table.directory), "space": space.id, "resolutions": table.resolutions, "stat": table.stat,
            "measured_stat": table.budget_stat,
            "measured_ms": {"min": float(measured.min()), "max": float(measured.max()), "median": float(np.median(measured))},
            "predictors": {name: metrics(p, measured) | {"how": notes[name]} for name, p in preds.items()}}


def drift_summary(table: LatencyTable, rows: pd.DataFrame) -> dict:
    """How far the device drifted during validation: the anchor's timings over their reference (the network
    anchor's at calibration, or the table's block anchor for rows measured against it)."""
    anchors = rows["anchor_ms"].to_numpy(float)
    if np.isnan(anchors).all():
        return {"anchor": None, "note": "measured without a drift anchor"}
    if network_anchored(rows).all():
        name, reference = "network (the middle sub-network)", network_reference_ms(calibration_network_rows(table.directory), rows)
    else:
        name, reference = table.manifest["protocol"]["anchor"], table.anchor_ref_ms
    ratio = anchors / reference
    return {"anchor": name, "anchor_ref_ms": reference,
            "anchor_over_ref": {"min": float(np.nanmin(ratio)), "median": float(np.nanmedian(ratio)), "max": float(np.nanmax(ratio))},
            "share_within_5pct_of_ref": float(np.nanmean(ratio <= 1.05))}


def _save_predictions(directory: Path, configs: list[SubnetConfig], measured: np.ndarray, preds: dict) -> None:
    frame = pd.DataFrame({"config": [c.to_json() for c in configs], "r": [c.r for c in configs], "measured_ms": measured}
                         | {f"{k}_ms": v for k, v in preds.items()})
    atomic_write(Path(directory) / "validation.csv", lambda tmp: frame.to_csv(tmp, index=False))
