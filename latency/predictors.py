"""Latency predictors with one interface, each returning latency with its spread.

- :class:`BlockSumPredictor`: sum of the table's block means (OFA's method); spread = sqrt(sum of
  block variances), assuming independent block timings.
- :class:`CalibratedSumPredictor`: ``a * block_sum + b * n_blocks [+ w * million weights] + c`` fitted on a
  few end-to-end measurements by least squares on the *relative* error (``a`` per resolution and the weights
  term when leave-one-out cross-validation says they help); corrects the systematic gap from operator fusion,
  caching and per-inference overhead (each block micro-model pays one call overhead, a network pays one; a
  micro-model's weights stay cached, a network's are read from memory each inference).
  Spread = sqrt((a * sum_std)^2 + (relative residual std * prediction)^2).
- :class:`FittedE2EPredictor`: non-negative least squares on analytic network features
  (:mod:`latency.features`) from end-to-end measurements only, for devices where per-block
  profiling is impractical. Spread = residual std of the fit.

Every predictor's mean is a sum over blocks, exported as the project's one additive cost table
(:meth:`LatencyPredictor.additive`, an :class:`~ofa.cost_table.AdditiveCost`): search scores whole
populations with it and finds exact minima. All predict a whole population at once (numpy gathers, a few
microseconds per config): ``predictor.predict(configs)`` or
``predictor.predict_population(predictor.index.encode_arrays(ks, e, d, r))``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from latency.blocks import enumerate_blocks
from latency.features import FEATURES, block_features, block_mweights
from latency.index import BlockIndex
from latency.table import LatencyTable
from ofa.cost_table import AdditiveCost
from ofa.errors import ConfigError
from ofa.population import Population
from ofa.spaces import SearchSpace, get_space
from ofa.subnet import SubnetConfig

MIN_POINTS_AFFINE = 4  # fewer calibration points: fit the ratio a only
MIN_POINTS_PER_RESOLUTION = 4  # calibration points at every resolution needed for per-resolution scales


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
        return self.predict_population(self.index.encode(configs))

    def predict_population(self, pop: Population) -> LatencyPrediction:
        self.index.rows(pop)  # a resolution without table rows is an error, not an inf
        mean = self.additive()(pop)
        return LatencyPrediction(mean, self.spread(pop, mean))

    @cached_property
    def _additive(self) -> AdditiveCost:
        return self.index.additive(*self.tables())

    def additive(self) -> AdditiveCost:
        """The predicted mean in ms as one additive table over the space's resolutions."""
        return self._additive

    @abstractmethod
    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """``(base (rows,), block (rows, slots, K, E))`` of the mean in ms, rows = the table's resolutions."""

    @abstractmethod
    def spread(self, pop: Population, mean: np.ndarray) -> np.ndarray:
        """Std of the prediction (ms) for each config, given its predicted ``mean``."""

    def describe(self) -> dict:
        return {"name": self.name}


class BlockSumPredictor(LatencyPredictor):
    name = "block_sum"

    def __init__(self, index: BlockIndex, values: dict[str, np.ndarray], stat: str = "mean_ms"):
        super().__init__(index)
        self.stat = stat
        self._tables = index.gather(values, 2)

    @classmethod
    def from_table(cls, table: LatencyTable, stat: "str | None" = None) -> "BlockSumPredictor":
        """The table's block sum; ``stat`` defaults to the table's own statistic (``table.stat``)."""
        index = BlockIndex(get_space(table.space_id), table.resolutions, table.num_classes)
        stat = stat or table.stat
        return cls(index, table.values(stat), stat)

    def sums(self, pop: Population) -> np.ndarray:
        """``(N, 2)``: block-sum mean and variance."""
        return self.index.sum(self._tables, pop)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        fixed, slots = self._tables
        return fixed[:, 0], slots[..., 0]

    def spread(self, pop: Population, mean: np.ndarray) -> np.ndarray:
        return np.sqrt(self.sums(pop)[:, 1])

    def describe(self) -> dict:
        return {"name": self.name, "stat": self.stat}


def _nonneg_lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from scipy.optimize import nnls

    scale = np.maximum(np.abs(x).max(axis=0), 1e-12)  # column scaling keeps nnls well conditioned
    coef, _ = nnls(x / scale, y)
    return coef / scale


def _relative_lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares on the relative error ``(x @ coef - y) / y``.

    Accuracy is judged relative to the measured latency (share within +-10 %), and plain least
    squares lets the largest networks dominate the fit at the cost of the smallest ones. Share of
    validation networks within +-10 %, plain -> relative fit: on the first bench data sets ORT 96 -> 99 %,
    LiteRT 96.7 -> 100 % (30 networks); on fresh runs of both benches 95 -> 95 % and 95 -> 96 %.
    """
    w = 1.0 / y
    return np.linalg.lstsq(x * w[:, None], y * w, rcond=None)[0]


def _resid_std(pred: np.ndarray, y: np.ndarray, n_params: int) -> float:
    dof = max(len(y) - n_params, 1)
    return float(np.sqrt(np.sum((pred - y) ** 2) / dof))


class CalibratedSumPredictor(LatencyPredictor):
    """``scale * block_sum + per_block * n_blocks [+ per_mweight * weights] + offset``, fitted on a few
    end-to-end measurements by least squares on the relative error.

    Two choices of form, made by leave-one-out cross-validation on the calibration networks
    (:func:`choose_form`; the simplest form within 5 % of the best relative LOO error wins):

    * one block-sum ``scale`` per resolution (needs :data:`MIN_POINTS_PER_RESOLUTION` networks at every
      resolution) or one shared by all. Per resolution corrects gaps that grow with the input size, e.g.
      LiteRT blocks converted once and resized on the device (on the LiteRT bench, within +-10 %: 90 % with
      one scale, 100 % per resolution);
    * a term per million weights the network runs. A micro-model runs one block again and again with its
      weights hot in the core's cache; a network streams every block's weights once per inference. On
      onnxruntime int8 (QDQ) networks this cold-weight cost is the largest gap the block sum misses:
      140 networks measured on one core, 5-fold cross-validated, within +-10 %: 97.9 % without the term,
      99.3 % with it (bench/results/lut_accuracy_*).
    """

    name = "calibrated_sum"

    def __init__(self, block_sum: BlockSumPredictor, coef: np.ndarray, resid_rel_std: float, n_points: int,
                 per_resolution: bool = False, weights_term: bool = False):
        super().__init__(block_sum.index)
        self.block_sum, self.coef, self.n_points = block_sum, np.asarray(coef, float), n_points
        self.resid_rel_std = resid_rel_std  # std of (fit - measured) / measured over the calibration set
        self.per_resolution, self.weights_term = per_resolution, weights_term
        self.form_scores: dict[str, float] = {}  # relative LOO RMSE of each form tried (describe())

    @classmethod
    def fit(cls, block_sum: BlockSumPredictor, configs: Sequence[SubnetConfig], measured_ms: Sequence[float]) -> "CalibratedSumPredictor":
        y = np.asarray(measured_ms, float)
        if len(y) < 1 or len(y) != len(configs):
            raise ConfigError("calibration needs at least one end-to-end measurement per config")
        index = block_sum.index
        pop = index.encode(list(configs))
        n_res = len(index.resolutions)
        sums, rows, blocks = block_sum.sums(pop)[:, 0], index.rows(pop), index.n_blocks(pop)
        mweights = index.sum(weight_tables(index), pop)[:, 0]
        if len(y) < MIN_POINTS_AFFINE:
            x = design(sums, rows, blocks, n_res, False)
            coef = np.array([float(_relative_lstsq(x[:, :1], y)[0]), 0.0, 0.0])
            return cls(block_sum, coef, _resid_std(x @ coef / y, np.ones_like(y), 1), len(y))
        counts = np.bincount(rows, minlength=n_res)
        forms = [(False, False)] + [  # the affine form always; a richer one with 2 points to spare for LOO
            (per_res, w) for per_res in (False, True) for w in (False, True) if (per_res or w)
            and (not per_res or (n_res > 1 and counts.min() >= MIN_POINTS_PER_RESOLUTION))
            and len(y) >= _n_coef(n_res, per_res, w) + 2]
        designs = {form: design(sums, rows, blocks, n_res, form[0], mweights if form[1] else None) for form in forms}
        (per_res, w), scores = choose_form(designs, y) if len(designs) > 1 else ((False, False), {})
        x = designs[(per_res, w)]
        coef = _relative_lstsq(x, y)
        model = cls(block_sum, coef, _resid_std(x @ coef / y, np.ones_like(y), min(len(y) - 1, len(coef))), len(y),
                    per_res, w)
        model.form_scores = {_form_name(f): s for f, s in scores.items()}
        return model

    def _scales(self) -> np.ndarray:
        """The block-sum scale of each table row."""
        n_res = len(self.index.resolutions)
        return self.coef[:n_res] if self.per_resolution else np.full(n_res, self.coef[0])

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        base, block = self.block_sum.tables()
        scale, (per_block, offset) = self._scales(), (self.coef[-3 if self.weights_term else -2], self.coef[-1])
        base, block = scale * base + offset, scale[:, None, None, None] * block + per_block
        if self.weights_term:
            fixed_w, slot_w = weight_tables(self.index)
            base, block = base + self.coef[-2] * fixed_w[:, 0], block + self.coef[-2] * slot_w[..., 0]
        return base, block

    def spread(self, pop: Population, mean: np.ndarray) -> np.ndarray:
        scale = self._scales()[self.index.rows(pop)]
        return np.sqrt((scale ** 2) * self.block_sum.sums(pop)[:, 1] + (self.resid_rel_std * mean) ** 2)

    def describe(self) -> dict:
        n_scales = len(self.index.resolutions) if self.per_resolution else 1
        scales, rest = self.coef[:n_scales], self.coef[n_scales:]
        scale = ({str(r): float(a) for r, a in zip(self.index.resolutions, scales)} if self.per_resolution
                 else float(scales[0]))
        out = {"name": self.name, "scale": scale, "per_block_ms": float(rest[0]), "offset_ms": float(rest[-1])}
        if self.weights_term:
            out["per_mweight_ms"] = float(rest[1])
        out |= {"resid_std_pct": 100 * self.resid_rel_std, "n_points": self.n_points,
                "form": _form_name((self.per_resolution, self.weights_term))}
        if self.form_scores:
            out["loo_rel_rmse_pct"] = {k: round(100 * v, 3) for k, v in self.form_scores.items()}
        return out


FORM_TOLERANCE = 1.05  # a richer form must beat the simpler one's LOO error by more than 5 %


def choose_form(designs: dict, y: np.ndarray) -> tuple[tuple[bool, bool], dict]:
    """The calibrated sum's form: the simplest whose relative leave-one-out RMSE is within 5 % of the best.

    ``designs``: form -> design matrix, in order of increasing complexity. Returns the form and every
    form's LOO RMSE. Leave-one-out on 20 networks is 20 small least-squares fits (microseconds).
    """
    scores = {form: _loo_rel_rmse(x, y) for form, x in designs.items()}
    best = min(scores.values())
    for form, score in scores.items():  # insertion order: simplest first
        if score <= best * FORM_TOLERANCE + 1e-12:
            return form, scores
    raise AssertionError("unreachable: the best form is within its own tolerance")


def _loo_rel_rmse(x: np.ndarray, y: np.ndarray) -> float:
    errors = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        errors[i] = x[i] @ _relative_lstsq(x[keep], y[keep]) / y[i] - 1
    return float(np.sqrt(np.mean(errors ** 2)))


def _n_coef(n_res: int, per_resolution: bool, weights: bool) -> int:
    return (n_res if per_resolution else 1) + 2 + int(weights)


def _form_name(form: tuple[bool, bool]) -> str:
    return ("scale per resolution" if form[0] else "one scale") + (" + weights term" if form[1] else "")


def design(sums: np.ndarray, rows: np.ndarray, n_blocks: np.ndarray, n_res: int, per_resolution: bool,
           mweights: "np.ndarray | None" = None) -> np.ndarray:
    """Columns of the calibrated sum: scale column(s) (per table row ``rows``), block count, [million weights,]
    constant."""
    if per_resolution:
        scale_cols = sums[:, None] * (rows[:, None] == np.arange(n_res)[None, :])
    else:
        scale_cols = sums[:, None]
    extra = [] if mweights is None else [np.asarray(mweights, float)]
    return np.column_stack([scale_cols, n_blocks.astype(float), *extra, np.ones(len(sums))])


def weight_tables(index: BlockIndex) -> tuple[np.ndarray, np.ndarray]:
    """Million weights of every table entry, gathered like block timings: ``(fixed (R, 1), slots (R, S, K, E, 1))``."""
    key = (index.space.id, index.resolutions, index.num_classes)
    if key not in _WEIGHT_TABLES:
        counts = {b.ident: np.array([block_mweights(b)])
                  for b in enumerate_blocks(index.space, index.resolutions, index.num_classes)}
        _WEIGHT_TABLES[key] = index.gather(counts, 1)
    return _WEIGHT_TABLES[key]


_WEIGHT_TABLES: dict = {}


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
        weights = _nonneg_lstsq(x, y)
        return cls(index, weights, _resid_std(x @ weights, y, len(weights)), len(y))

    def _design(self, pop: Population) -> np.ndarray:
        return np.column_stack([self.index.sum(self._tables, pop), np.ones(len(pop))])

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        fixed, slots = self._tables
        return fixed @ self.weights[:-1] + self.weights[-1], slots @ self.weights[:-1]

    def spread(self, pop: Population, mean: np.ndarray) -> np.ndarray:
        return np.full(len(pop), self.resid_std)

    def describe(self) -> dict:
        return {"name": self.name, "weights": dict(zip(FEATURES + ("offset",), self.weights.tolist())),
                "resid_std_ms": self.resid_std, "n_points": self.n_points}


def feature_map(index: BlockIndex) -> dict[str, np.ndarray]:
    return {b.ident: block_features(b) for b in enumerate_blocks(index.space, index.resolutions, index.num_classes)}
