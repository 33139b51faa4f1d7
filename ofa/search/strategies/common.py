"""What the strategies share: the result built from a history, and feasible batches."""

from __future__ import annotations

import time

import numpy as np

from ofa.search.evolution import SearchHistory, SearchResult


def result_of(history: SearchHistory, start: float) -> SearchResult:
    """The best evaluated candidate of ``history`` (every candidate in it is feasible)."""
    scores = np.concatenate(history.fitness)
    best = int(np.argmax(scores))
    return SearchResult(history.population().take([best]), float(scores[best]), history, time.perf_counter() - start,
                        len(history))
