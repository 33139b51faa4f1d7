"""The Python API most users need: load a table's predictor and score many configs at once.

    from latency import load_predictor, predict_latency_ms
    pred = load_predictor("luts/local-ort", kind="auto")      # calibrated if calibration data exists
    result = pred.predict(configs)                               # LatencyPrediction(mean_ms, std_ms) arrays
    # search loops over arrays can skip SubnetConfig objects entirely:
    pop = pred.index.encode_arrays(ks, e, d, r)                  # (N, slots), (N, slots), (N, stages), (N,)
    result = pred.predict_population(pop)                        # or pred.additive()(pop): the mean alone
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from devices.session import DeviceSession
from devices.stats import budget_column
from latency.anchor import e2e_anchor
from latency.e2e import configs_of, e2e_values, even_shares, load_e2e, measure_subnets, spread_sample
from latency.fitted import FittedLatencyPredictor, is_fitted_predictor
from latency.int8 import Int8Calibration
from latency.lock import lut_lock
from latency.predictors import (
    BlockSumPredictor,
    CalibratedSumPredictor,
    FittedE2EPredictor,
    LatencyPrediction,
    LatencyPredictor,
)
from latency.table import LatencyTable
from ofa.errors import ArtifactError, ConfigError
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig

PREDICTORS = ("auto", "block_sum", "calibrated_sum", "fitted_e2e", "fitted")


def load_predictor(lut: "str | Path | LatencyTable", kind: str = "auto", stat: Optional[str] = None,
                   target: Optional[str] = None) -> LatencyPredictor:
    """A predictor for the table in ``lut`` (or the fitted predictor there, see :mod:`latency.fitted`).
    ``auto`` = calibrated sum when the table has end-to-end
    measurements (``ofa lut build --calibrate N``, ``ofa lut validate``), else the plain block sum.
    The fitted predictors use every end-to-end measurement of the table, calibration and validation
    networks alike: more networks, measured at more moments, average out the device's drift (see
    ``calibrated_sum_all`` in :func:`latency.validate.score`). ``stat`` (default: the table's own, see
    :mod:`latency.table`) is used for the blocks. ``target`` is the declared budget statistic the fitted
    predictors promise (``median``, ``p90``, ...; default: the table's ``budget_stat``, i.e. the device's):
    they are fitted to that statistic of the end-to-end rows, the figure a user's plain timing loop reports,
    so a drift-compensated block sum maps onto what the user will see."""
    if kind not in PREDICTORS:
        raise ConfigError(f"unknown predictor {kind!r}; valid: {list(PREDICTORS)}")
    if not isinstance(lut, LatencyTable) and is_fitted_predictor(lut):
        return _fitted(lut, kind, target)
    if kind == "fitted":
        raise ConfigError(f"{lut} is a latency table; predictor 'fitted' needs a directory from `ofa latency fit`")
    table = lut if isinstance(lut, LatencyTable) else LatencyTable.load(lut)
    if table.manifest.get("family") == "resnet":  # OFA-ResNet tables: the block sum only (latency.resnet_predictor)
        from latency.resnet_predictor import resnet_predictor

        return resnet_predictor(table, kind, stat, target)
    space = get_space(table.space_id)
    rows = load_e2e(table.directory).drop_duplicates("config", keep="last")
    column = budget_column(target or table.budget_stat)
    if kind == "fitted_e2e":
        return FittedE2EPredictor.fit(space, table.resolutions, configs_of(rows, space), e2e_values(table, rows, column),
                                      table.num_classes)
    block_sum = BlockSumPredictor.from_table(table, stat)
    if kind == "block_sum" or (kind == "auto" and rows.empty):
        return block_sum
    if rows.empty:
        raise ArtifactError(f"{table.directory} has no end-to-end measurements; run `ofa lut build ... --calibrate 20` "
                            f"again (it keeps the table and measures the calibration networks) or `ofa lut validate`")
    return CalibratedSumPredictor.fit(block_sum, configs_of(rows, space), e2e_values(table, rows, column))


def _fitted(path: "str | Path", kind: str, target: Optional[str]) -> FittedLatencyPredictor:
    """The predictor ``ofa latency fit`` wrote in ``path``; it predicts one statistic, the one it was fitted to."""
    if kind not in ("auto", "fitted"):
        raise ConfigError(f"{path} is a fitted latency predictor (from `ofa latency fit`); predictor {kind!r} needs a "
                          f"latency table; use 'auto' or 'fitted'")
    model = FittedLatencyPredictor.load(path)
    fitted_to = model.manifest["statistic"]
    if target and target != fitted_to:
        raise ConfigError(f"{path} predicts the {fitted_to} latency, but the {target} was asked for; fit it on "
                          f"measurements of the {target} (`ofa device measure --stat {target}`)")
    return model


def predict_latency_ms(lut: "str | Path | LatencyTable | LatencyPredictor", configs: Sequence[SubnetConfig],
                       kind: str = "auto") -> LatencyPrediction:
    """Predicted latency (mean and spread, ms) of many configs at once, vectorised."""
    predictor = lut if isinstance(lut, LatencyPredictor) else load_predictor(lut, kind)
    return predictor.predict(list(configs))


def calibrate(lut_dir: "str | Path", device=None, n: int = 20, seed: int = 0,
              on_progress: Optional[Callable[[int, int], None]] = None, session: Optional[DeviceSession] = None):
    """Measure ``n`` sub-networks end to end for the calibrated sum (spread over each resolution's latency range)."""
    table = LatencyTable.load(lut_dir)
    if session is None:  # locked before the device session starts: a second writer is refused at once
        with lut_lock(lut_dir), DeviceSession(device or table.manifest["device"]["device"]) as live:
            return calibrate(lut_dir, device, n, seed, on_progress, live)
    if table.manifest.get("family") == "resnet":  # OFA-ResNet networks (latency.resnet_predictor)
        from latency.resnet_predictor import calibrate_resnet

        return calibrate_resnet(table, session, n, seed, on_progress)
    space = get_space(table.space_id)
    block_sum = BlockSumPredictor.from_table(table)
    configs = calibration_sample(space, table.resolutions, n, seed, lambda cs: block_sum.predict(cs).mean_ms)
    with lut_lock(lut_dir):
        return measure_subnets(session, space, configs, lut_dir, "calibration", table.num_classes, on_progress,
                               anchor=e2e_anchor(table, space), calibration=Int8Calibration.of_manifest(table.manifest))


def calibration_sample(space, resolutions: Sequence[int], n: int, seed: int, score) -> list[SubnetConfig]:
    """``n`` configs split evenly over ``resolutions``, each share spread over its latency range.

    Even shares let the calibrated sum fit one scale per resolution once every resolution has
    enough points (see :class:`~latency.predictors.CalibratedSumPredictor`).
    """
    resolutions = sorted(resolutions)
    picked: list[SubnetConfig] = []
    for r, share in zip(resolutions, even_shares(n, len(resolutions))):
        if share:
            picked += spread_sample(space, [r], share, seed + r, score)
    return picked
