"""A search fitness that measures instead of predicting: every network a strategy asks about is extracted from
the supernet with its inherited weights, BN-recalibrated and evaluated (:class:`SubnetEvaluator`).

Each distinct architecture is measured once (keyed by its canonical config, so rows differing only in
unused slots count as one); a repeat returns the stored top-1 and costs nothing. The strategies count
their evaluation budget in fitness *queries*, repeats included, so ``measured`` (distinct networks
measured) can be lower than the budget a strategy reports spent.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

from ofa.population import Population
from ofa.spaces import SearchSpace

log = logging.getLogger(__name__)


class MeasuredFitness:
    """``fitness(pop)`` = measured top-1 of each row; ``lift`` maps rows of a searched sub-space into ``space``."""

    def __init__(self, evaluator, space: SearchSpace, lift: Callable[[Population], Population] | None = None):
        self.evaluator, self.space, self.lift = evaluator, space, lift
        self.cache: dict = {}
        self.queries = 0
        self.seconds = 0.0

    @property
    def measured(self) -> int:
        """Distinct networks measured so far (each one extract + BN recalibration + one validation pass)."""
        return len(self.cache)

    def __call__(self, pop: Population) -> np.ndarray:
        rows = self.lift(pop) if self.lift is not None else pop
        self.queries += len(rows)
        keys = [cfg.canonical(self.space) for cfg in rows.configs(self.space)]
        for cfg in keys:
            if cfg not in self.cache:
                self.cache[cfg] = self.measure(cfg)
        return np.array([self.cache[cfg] for cfg in keys], dtype=np.float64)

    def measure(self, cfg) -> float:
        t0 = time.perf_counter()
        top1 = float(self.evaluator.evaluate(cfg)["top1"])
        self.seconds += time.perf_counter() - t0
        log.debug("measured %s: top-1 %.4f", cfg.arch_string(self.space), top1)
        return top1

    def best(self) -> tuple[object, float]:
        """The best measured config so far and its top-1 (the first measured among equals)."""
        if not self.cache:
            raise ValueError("nothing measured yet")
        cfg = max(self.cache, key=self.cache.__getitem__)
        return cfg, self.cache[cfg]
