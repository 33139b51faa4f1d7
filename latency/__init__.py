"""Latency lookup tables: block enumeration, micro-model profiling, storage, predictors, validation.

Python API (see :mod:`latency.api`): :func:`load_predictor`, :func:`predict_latency_ms`,
:func:`build_lut`, :func:`validate_lut`, :func:`import_ofa_tables`; without a table (:mod:`latency.fit`):
:func:`measure_to_file`, :func:`read_measurements`, :func:`fit_predictor`, :class:`FittedLatencyPredictor`.
"""

from latency.api import PREDICTORS, calibrate, load_predictor, predict_latency_ms
from latency.blocks import enumerate_blocks, network_block_keys
from latency.fit import fit_predictor, score_predictor
from latency.fitted import FittedLatencyPredictor
from latency.measure import measure_to_file
from latency.measurements import read_measurements
from latency.ofa_import import import_ofa_tables
from latency.predictors import (
    BlockSumPredictor,
    CalibratedSumPredictor,
    FittedE2EPredictor,
    LatencyPrediction,
    LatencyPredictor,
)
from latency.profile import build_lut
from latency.table import LatencyTable
from latency.validate import validate_lut

__all__ = ["PREDICTORS", "calibrate", "load_predictor", "predict_latency_ms", "enumerate_blocks", "network_block_keys",
           "import_ofa_tables", "BlockSumPredictor", "CalibratedSumPredictor", "FittedE2EPredictor",
           "LatencyPrediction", "LatencyPredictor", "build_lut", "LatencyTable", "validate_lut", "fit_predictor",
           "score_predictor", "FittedLatencyPredictor", "measure_to_file", "read_measurements"]
