"""Timing passes until each model's figure settles (the protocol behind ``runner.passes``).

A shared or throttling device has moments when everything runs slower. One pass over a batch can
land in such a moment; a second pass, seconds later, usually does not. Each model is timed
``passes`` times; a model is *settled* when its two quietest passes agree within ``settle_tolerance``
and the quietest was taken while the device ran at most ``settle_tolerance`` slower than the quietest
moment seen in this session. Unsettled models are timed again after a pause of ``settle_wait_s``
(for a burst of load, or heat, to pass), up to ``max_passes`` in all. The quietest pass is kept.

"Quiet" is judged by the drift anchor when the runner times one (its fastest run in that pass), so a
pass is never picked for the model's own lucky numbers; without an anchor, by the model's fastest run.
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator

from devices.parsers import Timing


def level(timing: Timing) -> float:
    """How slow the device was during this pass: the anchor's fastest run, else the model's."""
    if timing.anchor_samples_ms:
        return min(timing.anchor_samples_ms)
    return fastest(timing)


def fastest(timing: Timing) -> float:
    if timing.samples_ms:
        return min(timing.samples_ms)
    return timing.summary.get("min", timing.summary.get("mean", math.inf))


def value(timing: Timing) -> float:
    """The pass's figure, drift-compensated when there is an anchor (model fastest / anchor fastest)."""
    return fastest(timing) / level(timing) if timing.anchor_samples_ms else fastest(timing)


class PassLog:
    """Every pass of every model in a batch, and which models still need another pass."""

    def __init__(self, tolerance: float):
        self.tolerance = tolerance
        self.passes: dict[str, list[Timing]] = {}
        self.quietest = math.inf

    def add(self, timing: Timing) -> None:
        self.passes.setdefault(timing.id, []).append(timing)
        self.quietest = min(self.quietest, level(timing))

    def settled(self, job_id: str) -> bool:
        runs = sorted(self.passes.get(job_id, []), key=lambda t: (level(t), value(t)))
        if len(runs) < 2:
            return False
        agree = abs(value(runs[1]) / value(runs[0]) - 1) <= self.tolerance
        return agree and level(runs[0]) <= (1 + self.tolerance) * self.quietest

    def best(self, ids: Iterable[str]) -> Iterator[Timing]:
        """The quietest pass of each model that was timed at least once, in the given order."""
        for job_id in ids:
            if job_id in self.passes:
                yield min(self.passes[job_id], key=level)
