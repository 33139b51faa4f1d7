"""Block-sum latency predictor of an OFA-ResNet latency table (OFA's method: the sum of the blocks' timings).

The table's timings fill the dense :class:`~ofa.resnet_cost_table.ResNetAdditiveCost` tables part by part
(:func:`latency.resnet_blocks.table_parts`), once for the means and once for the variances, so a whole
population is predicted with three gathers, and the search gets exact minima for its fail-fast checks.
The spread is sqrt(sum of block variances), as :class:`latency.predictors.BlockSumPredictor` assumes.
Only the block sum exists for ResNet tables so far: no calibrated sum (``ofa lut build --calibrate``
measures MobileNetV3-family networks only) and no fitted predictors.
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

RESNET_PREDICTORS = ("auto", "block_sum")


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


def resnet_predictor(table: LatencyTable, kind: str, stat: Optional[str]) -> ResNetBlockSumPredictor:
    """``load_predictor`` for an OFA-ResNet table: the block sum (``auto`` picks it)."""
    if kind not in RESNET_PREDICTORS:
        raise ConfigError(f"{table.directory} is an OFA-ResNet latency table: predictor {kind!r} is not available for "
                          f"it (only {list(RESNET_PREDICTORS)}; no calibrated or fitted predictors for ResNet yet)")
    return ResNetBlockSumPredictor.from_table(table, stat)
