"""Latency predictors with one interface, each returning latency with its spread.

- :class:`BlockSumPredictor`: sum of the table's block means (OFA's method); spread = sqrt(sum of
  block variances), assuming independent block timings.
- :class:`CalibratedSumPredictor`: ``a * block_sum + b * n_blocks + c`` fitted by least squares on a
  few end-to-end measurements; corrects the systematic gap from operator fusion, caching and
  per-inference overhead (each block micro-model pays one call overhead, a network pays one).
  Spread = sqrt((a * sum_std)^2 + residual variance of the fit).
- :class:`FittedE2EPredictor`: non-negative least squares on analytic network features
  (:mod:`latency.features`) from end-to-end measurements only, for devices where per-block
  profiling is impractical. Spread = residual std of the fit.

All predict a whole population at once from :class:`~latency.index.EncodedConfigs` (numpy gathers,
a few microseconds per config): ``predictor.predict(configs)`` or
``predictor.predict_encoded(predictor.index.encode_arrays(ks, e, d, r))``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from latency.blocks import enumerate_blocks
from latency.features import FEATURES, block_features
from latency.index import BlockIndex, EncodedConfigs
from latency.table import LatencyTable
from ofa.errors import ConfigError
from ofa.spaces import SearchSpace, get_space
from ofa.subnet import SubnetConfig

MIN_POINTS_AFFINE = 4  # fewer calibration points: fit the ratio a only


@dataclass(frozen=True)
class LatencyPrediction:
    """Predicted latency of N configs: ``mean_ms`` and its spread ``std_ms`` (arrays of length N)."""

    mean_ms: np.ndarray
    std_ms: np.ndarray

    def __len__(self) -> int:
        return len(self.mean_ms)

    def __getitem__(self, i: int) -> tuple[float, float]:
        return float(self.mean_ms[i]), float(self.std_ms[i])


class LatencyPredictor(ABC):
    name = "abstract"

    def __init__(self, index: BlockIndex):
        self.index = index

    @property
    def space(self) -> SearchSpace:
        return self.index.space

    def predict(self, configs: "Sequence[SubnetConfig] | SubnetConfig") -> LatencyPrediction:
        configs = [configs] if isinstance(configs, SubnetConfig) else list(configs)
        return self.predict_encoded(self.index.encode(configs))

    @abstractmethod
    def predict_encoded(self, enc: EncodedConfigs) -> LatencyPrediction: ...

    def describe(self) -> dict:
        return {"name": self.name}


class BlockSumPredictor(LatencyPredictor):
    name = "block_sum"

    def __init__(self, index: BlockIndex, values: dict[str, np.ndarray], stat: str = "mean_ms"):
        super().__init__(index)
        self.stat = stat
        self._tables = index.gather(values, 2)

    @classmethod
    def from_table(cls, table: LatencyTable, stat: str = "mean_ms") -> "BlockSumPredictor":
        index = BlockIndex(get_space(table.space_id), table.resolutions, table.num_classes)
        return cls(index, table.values(stat), stat)

    def sums(self, enc: EncodedConfigs) -> np.ndarray:
        return self.index.sum(self._tables, enc)

    def predict_encoded(self, enc: EncodedConfigs) -> LatencyPrediction:
        s = self.sums(enc)
        return LatencyPrediction(s[:, 0], np.sqrt(s[:, 1]))

    def describe(self) -> dict:
        return {"name": self.name, "stat": self.stat}


def _lstsq(x: np.ndarray, y: np.ndarray, nonneg: bool) -> np.ndarray:
    if nonneg:
        from scipy.optimize import nnls

        scale = np.maximum(np.abs(x).max(axis=0), 1e-12)  # column scaling keeps nnls well conditioned
        coef, _ = nnls(x / scale, y)
        return coef / scale
    return np.linalg.lstsq(x, y, rcond=None)[0]


def _resid_std(pred: np.ndarray, y: np.ndarray, n_params: int) -> float:
    dof = max(len(y) - n_params, 1)
    return float(np.sqrt(np.sum((pred - y) ** 2) / dof))


class CalibratedSumPredictor(LatencyPredictor):
    name = "calibrated_sum"

    def __init__(self, block_sum: BlockSumPredictor, coef: np.ndarray, resid_std: float, n_points: int):
        super().__init__(block_sum.index)
        self.block_sum, self.coef, self.resid_std, self.n_points = block_sum, np.asarray(coef, float), resid_std, n_points

    @staticmethod
    def _design(sums: np.ndarray, enc: EncodedConfigs) -> np.ndarray:
        return np.column_stack([sums[:, 0], enc.n_blocks.astype(float), np.ones(len(enc))])

    @classmethod
    def fit(cls, block_sum: BlockSumPredictor, configs: Sequence[SubnetConfig], measured_ms: Sequence[float]) -> "CalibratedSumPredictor":
        y = np.asarray(measured_ms, float)
        if len(y) < 1 or len(y) != len(configs):
            raise ConfigError("calibration needs at least one end-to-end measurement per config")
        enc = block_sum.index.encode(list(configs))
        x = cls._design(block_sum.sums(enc), enc)
        if len(y) < MIN_POINTS_AFFINE:
            coef = np.array([float(np.sum(x[:, 0] * y) / np.sum(x[:, 0] ** 2)), 0.0, 0.0])
        else:
            coef = _lstsq(x, y, nonneg=False)
        return cls(block_sum, coef, _resid_std(x @ coef, y, min(len(y) - 1, 3)), len(y))

    def predict_encoded(self, enc: EncodedConfigs) -> LatencyPrediction:
        s = self.block_sum.sums(enc)
        mean = self._design(s, enc) @ self.coef
        std = np.sqrt((self.coef[0] ** 2) * s[:, 1] + self.resid_std ** 2)
        return LatencyPrediction(mean, std)

    def describe(self) -> dict:
        a, b, c = self.coef
        return {"name": self.name, "scale": float(a), "per_block_ms": float(b), "offset_ms": float(c), "resid_std_ms": self.resid_std,
                "n_points": self.n_points}


class FittedE2EPredictor(LatencyPredictor):
    name = "fitted_e2e"

    def __init__(self, index: BlockIndex, weights: np.ndarray, resid_std: float, n_points: int):
        super().__init__(index)
        self.weights, self.resid_std, self.n_points = np.asarray(weights, float), resid_std, n_points
        self._tables = index.gather(feature_map(index), len(FEATURES))

    @classmethod
    def fit(cls, space: "SearchSpace | str", resolutions: Sequence[int], configs: Sequence[SubnetConfig],
            measured_ms: Sequence[float], num_classes: int = 1000) -> "FittedE2EPredictor":
        index = BlockIndex(get_space(space), resolutions, num_classes)
        y = np.asarray(measured_ms, float)
        if len(y) < len(FEATURES) + 2:
            raise ConfigError(f"the end-to-end fitted predictor needs at least {len(FEATURES) + 2} measured "
                              f"sub-networks, got {len(y)}")
        model = cls(index, np.zeros(len(FEATURES) + 1), 0.0, len(y))
        x = model._design(model.index.encode(list(configs)))
        weights = _lstsq(x, y, nonneg=True)
        return cls(index, weights, _resid_std(x @ weights, y, len(weights)), len(y))

    def _design(self, enc: EncodedConfigs) -> np.ndarray:
        return np.column_stack([self.index.sum(self._tables, enc), np.ones(len(enc))])

    def predict_encoded(self, enc: EncodedConfigs) -> LatencyPrediction:
        mean = self._design(enc) @ self.weights
        return LatencyPrediction(mean, np.full(len(enc), self.resid_std))

    def describe(self) -> dict:
        return {"name": self.name, "weights": dict(zip(FEATURES + ("offset",), self.weights.tolist())),
                "resid_std_ms": self.resid_std, "n_points": self.n_points}


def feature_map(index: BlockIndex) -> dict[str, np.ndarray]:
    return {b.ident: block_features(b) for b in enumerate_blocks(index.space, index.resolutions, index.num_classes)}
