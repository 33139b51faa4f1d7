"""The closed loop that keeps an entry's latency promise: search, build, measure, tighten, repeat.

A budget promises a declared statistic (median by default) of plain timed runs on the device, with a
margin for the device's run-to-run noise: an entry is ``ok`` when its measured statistic is at most
``budget * (1 - margin)``. Predictions are never exact (operator fusion, the exporter's graph, the
device's state), so the first round searches under that limit, and each later round, after an entry
measured over, searches under the previous target scaled by ``limit / measured`` (a further
:data:`TIGHTEN` below, so a repeat of the same miss is unlikely). After ``rounds`` rounds an entry
that is still over says ``over_budget`` with both figures; it never says ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ofa.errors import InfeasibleError

TIGHTEN = 0.98


@dataclass
class Round:
    index: int
    target_ms: float
    measured_ms: float
    result: Any = None  # what the attempt built (the zoo: the entry's temp folder and card)

    def summary(self) -> dict:
        return {"round": self.index, "target_ms": self.target_ms, "measured_ms": self.measured_ms}


@dataclass
class BudgetOutcome:
    status: str  # "ok" or "over_budget"
    budget_ms: float
    limit_ms: float
    rounds: list[Round] = field(default_factory=list)
    reason: str = ""

    @property
    def chosen(self) -> Round:
        """The round that is kept: the passing one, else the fastest measured."""
        if self.status == "ok":
            return self.rounds[-1]
        return min(self.rounds, key=lambda r: r.measured_ms)


Attempt = Callable[[int, float], "tuple[float, Any]"]  # (round, target ms) -> (measured ms, what was built)


def meet_budget(budget_ms: float, margin: float, rounds: int, attempt: Attempt,
                floor_ms: float = 0.0) -> BudgetOutcome:
    """Run ``attempt`` with ever tighter targets until the measured figure is within the limit.

    ``floor_ms`` is the fastest predicted sub-network: a tighter target below it is clamped to it once
    (the fastest network gets its chance), and the loop ends there. An :class:`InfeasibleError` in the
    first round propagates (the budget itself is unreachable); in a later round it ends the loop as
    ``over_budget``, naming the target no sub-network reaches.
    """
    if not budget_ms > 0:
        raise ValueError(f"budget must be a positive number of ms, got {budget_ms!r}")
    if not 0 <= margin < 1 or rounds < 1:
        raise ValueError(f"need 0 <= margin < 1 and rounds >= 1, got margin={margin}, rounds={rounds}")
    limit = budget_ms * (1 - margin)
    outcome = BudgetOutcome("over_budget", budget_ms, limit)
    target = limit
    for index in range(rounds):
        try:
            measured, result = attempt(index, target)
        except InfeasibleError as exc:
            if not outcome.rounds:
                raise
            outcome.reason = (f"measured {outcome.chosen.measured_ms:.4g} ms > limit {limit:.4g} ms; the tighter "
                              f"target {target:.4g} ms is below the fastest predicted sub-network ({exc})")
            return outcome
        outcome.rounds.append(Round(index, target, measured, result))
        if measured <= limit:
            outcome.status = "ok"
            return outcome
        if target <= floor_ms:
            outcome.reason = (f"measured {outcome.chosen.measured_ms:.4g} ms > limit {limit:.4g} ms, even for the "
                              f"fastest predicted sub-networks ({floor_ms:.4g} ms predicted)")
            return outcome
        target = max(target * limit / measured * TIGHTEN, floor_ms)
    outcome.reason = (f"measured {outcome.chosen.measured_ms:.4g} ms > limit {limit:.4g} ms (budget {budget_ms:g} ms "
                      f"less the {100 * margin:g} % margin) after {rounds} round(s)")
    return outcome
