"""The Python API most users need: load a table's predictor and score many configs at once.

    from latency import load_predictor, predict_latency_ms
    pred = load_predictor("luts/local-ort", kind="auto")      # calibrated if calibration data exists
    result = pred.predict(configs)                               # LatencyPrediction(mean_ms, std_ms) arrays
    # search loops over arrays can skip SubnetConfig objects entirely:
    enc = pred.index.encode_arrays(ks, e, d, r)                  # (N, slots), (N, slots), (N, stages), (N,)
    result = pred.predict_encoded(enc)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from devices.session import DeviceSession
from latency.e2e import configs_of, load_e2e, measure_subnets, spread_sample
from latency.predictors import (BlockSumPredictor, CalibratedSumPredictor, FittedE2EPredictor, LatencyPrediction,
                                LatencyPredictor)
from latency.table import LatencyTable
from ofa.errors import ArtifactError, ConfigError
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig

PREDICTORS = ("auto", "block_sum", "calibrated_sum", "fitted_e2e")


def load_predictor(lut: "str | Path | LatencyTable", kind: str = "auto", stat: str = "mean_ms") -> LatencyPredictor:
    """A predictor for the table in ``lut``. ``auto`` = calibrated sum when the table has calibration
    measurements (``ofa lut build --calibrate N``), else the plain block sum."""
    if kind not in PREDICTORS:
        raise ConfigError(f"unknown predictor {kind!r}; valid: {list(PREDICTORS)}")
    table = lut if isinstance(lut, LatencyTable) else LatencyTable.load(lut)
    space = get_space(table.space_id)
    e2e = load_e2e(table.directory).drop_duplicates(["config", "purpose"], keep="last")
    calib = e2e[e2e["purpose"] == "calibration"]
    if kind == "fitted_e2e":
        rows = e2e.drop_duplicates("config", keep="last")
        return FittedE2EPredictor.fit(space, table.resolutions, configs_of(rows, space), rows["mean_ms"].to_numpy(float),
                                      table.num_classes)
    block_sum = BlockSumPredictor.from_table(table, stat)
    if kind == "block_sum" or (kind == "auto" and calib.empty):
        return block_sum
    if calib.empty:
        raise ArtifactError(f"{table.directory} has no calibration measurements; run `ofa lut build ... --calibrate 10`")
    return CalibratedSumPredictor.fit(block_sum, configs_of(calib, space), calib["mean_ms"].to_numpy(float))


def predict_latency_ms(lut: "str | Path | LatencyTable | LatencyPredictor", configs: Sequence[SubnetConfig],
                       kind: str = "auto") -> LatencyPrediction:
    """Predicted latency (mean and spread, ms) of many configs at once, vectorised."""
    predictor = lut if isinstance(lut, LatencyPredictor) else load_predictor(lut, kind)
    return predictor.predict(list(configs))


def calibrate(lut_dir: "str | Path", device=None, n: int = 10, seed: int = 0,
              on_progress: Optional[Callable[[int, int], None]] = None, session: Optional[DeviceSession] = None):
    """Measure ``n`` sub-networks (spread over the latency range) end to end for the calibrated sum."""
    table = LatencyTable.load(lut_dir)
    space = get_space(table.space_id)
    block_sum = BlockSumPredictor.from_table(table)
    configs = spread_sample(space, table.resolutions, n, seed, lambda cs: block_sum.predict(cs).mean_ms)
    if session is None:
        with DeviceSession(device or table.manifest["device"]["device"]) as live:
            return measure_subnets(live, space, configs, lut_dir, "calibration", table.num_classes, on_progress)
    return measure_subnets(session, space, configs, lut_dir, "calibration", table.num_classes, on_progress)
