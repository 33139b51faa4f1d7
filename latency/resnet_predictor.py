"""Latency predictors of an OFA-ResNet latency table: the block sum (OFA's method) and the calibrated sum.

The table's timings fill the dense :class:`~ofa.resnet_cost_table.ResNetAdditiveCost` tables part by part
(:func:`latency.resnet_blocks.table_parts`), once for the means and once for the variances, so a whole
population is predicted with three gathers, and the search gets exact minima for its fail-fast checks.
The block sum's spread is sqrt(sum of block variances), as :class:`latency.predictors.BlockSumPredictor`.

The calibrated sum is MobileNetV3's (:class:`latency.predictors.CalibratedSumPredictor`, the same design
matrix and relative least squares): ``scale * block_sum + per_block * n_blocks + offset`` fitted on whole
ResNet networks timed end to end (``ofa lut build --calibrate N``: :func:`calibrate_resnet`, rows in the
table's ``e2e.csv``), with one scale per resolution once every resolution has 4+ networks. It stays
additive (each entry scaled, ``per_block`` added to every block, ``offset`` to the stem). ``ofa lut
validate`` scores both; there are no fitted predictors for ResNet tables yet.
"""

from __future__ import annotations

from functools import cached_property
from typing import Optional, Sequence

import numpy as np

from latency.blocks import LutBlock
from latency.predictors import LatencyPrediction
from latency.resnet_blocks import table_parts
from latency.table import LatencyTable
from ofa.errors import ArtifactError, ConfigError
from ofa.resnet_cost_table import ResNetAdditiveCost
from ofa.resnet_population import ResNetPopulation
from ofa.spaces.resnet import ResNetConfig, ResNetSpace

RESNET_PREDICTORS = ("auto", "block_sum", "calibrated_sum")


class ResNetBlockSumPredictor:
    name = "block_sum"

    def __init__(self, space: ResNetSpace, values: dict[tuple[int, str], np.ndarray], resolutions: Sequence[int],
                 num_classes: int, where: str = "the table"):
        self.space, self.values, self.resolutions, self.num_classes = space, values, sorted(resolutions), num_classes
        self.where = where

    @classmethod
    def from_table(cls, table: LatencyTable, stat: Optional[str] = None) -> "ResNetBlockSumPredictor":
        missing = table.missing_blocks()
        if missing:
            r, key = missing[0]
            raise ArtifactError(f"{table.directory} lacks {len(missing)} block(s) of {table.space_id} (e.g. {key} at "
                                f"r={r}); re-run the same `ofa lut build` to measure them")
        return cls(table.space(), table.values(stat), table.resolutions, table.num_classes, str(table.directory))

    def _entry(self, column: int):
        def value(block: LutBlock) -> float:
            found = self.values.get(block.ident)
            if found is None:
                raise ArtifactError(f"{self.where} has no timing of {block.key} at r={block.resolution}; "
                                    "re-run the same `ofa lut build` to measure it")
            return float(found[column])
        return value

    @cached_property
    def _mean(self) -> ResNetAdditiveCost:
        return table_parts(self.space, self.resolutions, self.num_classes, self._entry(0))

    @cached_property
    def _variance(self) -> ResNetAdditiveCost:
        return table_parts(self.space, self.resolutions, self.num_classes, self._entry(1))

    def additive(self) -> ResNetAdditiveCost:
        """The mean as the search's additive cost table (``inf`` at resolutions the table does not cover)."""
        return self._mean

    def spread(self, pop: ResNetPopulation, mean: Optional[np.ndarray] = None) -> np.ndarray:
        return np.sqrt(self._variance(pop))

    def predict_population(self, pop: ResNetPopulation) -> LatencyPrediction:
        uncovered = sorted({self.space.resolutions[i] for i in pop.r} - set(self.resolutions))
        if uncovered:
            raise ConfigError(f"{self.where} was built for resolutions {self.resolutions}, not {uncovered}")
        return LatencyPrediction(self._mean(pop), self.spread(pop))

    def predict(self, configs: "Sequence[ResNetConfig] | ResNetConfig") -> LatencyPrediction:
        configs = [configs] if isinstance(configs, ResNetConfig) else list(configs)
        return self.predict_population(ResNetPopulation.from_configs(self.space, configs))


class ResNetCalibratedSum:
    """``scale * block_sum + per_block * n_blocks + offset`` (see the module docstring)."""

    name = "calibrated_sum"

    def __init__(self, block_sum: ResNetBlockSumPredictor, scales: np.ndarray, per_block: float, offset: float,
                 resid_rel_std: float, n_points: int):
        self.block_sum, self.space = block_sum, block_sum.space
        self.scales, self.per_block, self.offset = np.asarray(scales, float), per_block, offset
        self.resid_rel_std, self.n_points = resid_rel_std, n_points

    @classmethod
    def fit(cls, block_sum: ResNetBlockSumPredictor, configs: Sequence[ResNetConfig],
            measured_ms: Sequence[float]) -> "ResNetCalibratedSum":
        from latency.predictors import MIN_POINTS_AFFINE, MIN_POINTS_PER_RESOLUTION, _relative_lstsq, _resid_std, design

        y = np.asarray(measured_ms, float)
        if len(y) < 1 or len(y) != len(configs):
            raise ConfigError("calibration needs at least one end-to-end measurement per config")
        pop = ResNetPopulation.from_configs(block_sum.space, list(configs))
        res = block_sum.resolutions
        rows = np.array([res.index(c.r) for c in configs])
        per_res = len(res) > 1 and np.bincount(rows, minlength=len(res)).min() >= MIN_POINTS_PER_RESOLUTION
        x = design(block_sum.additive()(pop), rows, n_blocks(pop), len(res), per_res)
        coef = (np.array([float(_relative_lstsq(x[:, :1], y)[0]), 0.0, 0.0]) if len(y) < MIN_POINTS_AFFINE
                else _relative_lstsq(x, y))
        rel_resid = _resid_std(x @ coef / y, np.ones_like(y), min(len(y) - 1, len(coef)))
        scales = coef[:len(res)] if per_res else np.full(len(res), coef[0])
        return cls(block_sum, scales, float(coef[-2]), float(coef[-1]), rel_resid, len(y))

    def _scale_by_r(self) -> np.ndarray:
        """(space resolutions,) the scale of each (1 where the table has no rows: those entries are inf anyway)."""
        out = np.ones(len(self.space.resolutions))
        for r, scale in zip(self.block_sum.resolutions, self.scales):
            out[self.space.resolutions.index(r)] = scale
        return out

    @cached_property
    def _mean(self) -> ResNetAdditiveCost:
        base, scale = self.block_sum.additive(), self._scale_by_r()
        return ResNetAdditiveCost(self.space, scale[:, None, None, None] * base.stem + self.per_block + self.offset,
                                  scale[:, None, None, None, None] * base.block + self.per_block,
                                  scale[:, None] * base.head + self.per_block)

    def additive(self) -> ResNetAdditiveCost:
        return self._mean

    def spread(self, pop: ResNetPopulation, mean: Optional[np.ndarray] = None) -> np.ndarray:
        mean = self._mean(pop) if mean is None else mean
        scale = self._scale_by_r()[pop.r]
        return np.sqrt(scale ** 2 * self.block_sum.spread(pop) ** 2 + (self.resid_rel_std * mean) ** 2)

    def predict_population(self, pop: ResNetPopulation) -> LatencyPrediction:
        self.block_sum.predict_population(pop)  # refuses resolutions the table lacks
        mean = self._mean(pop)
        return LatencyPrediction(mean, self.spread(pop, mean))

    def predict(self, configs: "Sequence[ResNetConfig] | ResNetConfig") -> LatencyPrediction:
        configs = [configs] if isinstance(configs, ResNetConfig) else list(configs)
        return self.predict_population(ResNetPopulation.from_configs(self.space, configs))

    def describe(self) -> dict:
        return {"name": self.name, "scale": {str(r): float(a) for r, a in zip(self.block_sum.resolutions, self.scales)},
                "per_block_ms": self.per_block, "offset_ms": self.offset, "resid_std_pct": 100 * self.resid_rel_std,
                "n_points": self.n_points}


def n_blocks(pop: ResNetPopulation) -> np.ndarray:
    """Table blocks each network runs: the stem, its running bottlenecks, the head."""
    from ofa.resnet_population import active_mask, layout

    return 2 + active_mask(pop.space, pop.genes[:, layout(pop.space).d]).sum(axis=1)


def resnet_predictor(table: LatencyTable, kind: str, stat: Optional[str],
                     target: Optional[str] = None) -> "ResNetBlockSumPredictor | ResNetCalibratedSum":
    """``load_predictor`` for an OFA-ResNet table: ``auto`` = the calibrated sum when the table has end-to-end
    networks (``ofa lut build --calibrate N``), fitted to their ``target`` statistic (default: the table's
    ``budget_stat``, as for MobileNetV3), else the block sum."""
    from devices.stats import budget_column
    from latency.e2e import configs_of, e2e_values, load_e2e

    if kind not in RESNET_PREDICTORS:
        raise ConfigError(f"{table.directory} is an OFA-ResNet latency table: predictor {kind!r} is not available for "
                          f"it (only {list(RESNET_PREDICTORS)}; no fitted predictors for ResNet yet)")
    block_sum = ResNetBlockSumPredictor.from_table(table, stat)
    rows = load_e2e(table.directory).drop_duplicates("config", keep="last")
    if kind == "block_sum" or (kind == "auto" and rows.empty):
        return block_sum
    if rows.empty:
        raise ArtifactError(f"{table.directory} has no end-to-end measurements; run `ofa lut build ... --calibrate 20` "
                            "again (it keeps the table and measures the calibration networks)")
    measured = e2e_values(table, rows, budget_column(target or table.budget_stat))
    return ResNetCalibratedSum.fit(block_sum, configs_of(rows, block_sum.space), measured)


def calibrate_resnet(table: LatencyTable, session, n: int, seed: int = 0, on_progress=None):
    """Time ``n`` ResNet networks end to end into the table's ``e2e.csv`` (purpose ``calibration``): even shares
    per resolution, each share spread over its block-sum range (smallest to largest predicted)."""
    from latency.anchor import e2e_anchor
    from latency.e2e import measure_subnets
    from latency.lock import lut_lock

    block_sum = ResNetBlockSumPredictor.from_table(table)
    configs = spread_resnet_sample(block_sum, n, seed)
    with lut_lock(table.directory):
        return measure_subnets(session, block_sum.space, configs, table.directory, "calibration", table.num_classes,
                               on_progress, anchor=e2e_anchor(table, block_sum.space))


def spread_resnet_sample(block_sum: ResNetBlockSumPredictor, n: int, seed: int) -> list[ResNetConfig]:
    """``n`` configs in even shares per table resolution, each share spread over its block-sum range."""
    from latency.e2e import even_shares

    resolutions = block_sum.resolutions
    rng, configs = np.random.default_rng(seed), []
    for r, share in zip(resolutions, even_shares(n, len(resolutions))):
        if share:
            configs += _spread(block_sum.space, r, share, rng, lambda cs: block_sum.predict(cs).mean_ms)
    return configs


def _spread(space: ResNetSpace, r: int, n: int, rng: np.random.Generator, score, pool_factor: int = 20) -> list:
    """``n`` distinct configs at ``r`` at evenly spaced ranks of ``score`` over a uniform pool (both extremes in)."""
    from dataclasses import replace

    from latency.e2e import evenly_ranked

    pool = [ResNetConfig.smallest(space, r), ResNetConfig.largest(space, r)]
    pool += [replace(ResNetConfig.sample(space, int(s)), r=r) for s in rng.integers(0, 2**31, pool_factor * n)]
    return evenly_ranked(list(dict.fromkeys(pool)), n, score)
