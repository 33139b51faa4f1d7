"""Latency lookup tables: block enumeration, micro-model profiling, storage, predictors, validation.

Python API (see :mod:`latency.api`): :func:`load_predictor`, :func:`predict_latency_ms`,
:func:`build_lut`, :func:`validate_lut`, :func:`import_ofa_tables`; without a table (:mod:`latency.fit`):
:func:`measure_to_file`, :func:`read_measurements`, :func:`fit_predictor`, :class:`FittedLatencyPredictor`.

The names below load on first use, so the numpy-only predict side (``latency.predictors``,
``latency.table``, ``latency.index``) imports without torch, which only the build side needs.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "latency.api": ("PREDICTORS", "calibrate", "load_predictor", "predict_latency_ms"),
    "latency.blocks": ("enumerate_blocks", "network_block_keys"),
    "latency.fit": ("fit_predictor", "score_predictor"),
    "latency.fitted": ("FittedLatencyPredictor",),
    "latency.measure": ("measure_to_file",),
    "latency.measurements": ("read_measurements",),
    "latency.ofa_import": ("import_ofa_tables",),
    "latency.predictors": ("BlockSumPredictor", "CalibratedSumPredictor", "FittedE2EPredictor", "LatencyPrediction",
                           "LatencyPredictor"),
    "latency.profile": ("build_lut",),
    "latency.table": ("LatencyTable",),
    "latency.validate": ("validate_lut",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'latency' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
