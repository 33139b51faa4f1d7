"""Search constraints: a named, vectorised cost with an upper limit (latency on a device, FLOPs, params)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ofa.errors import InfeasibleError
from ofa.population import Population
from ofa.spaces import SearchSpace


@dataclass
class Cost:
    """A vectorised cost of a population, e.g. latency on one device. ``minimum()`` -> (value, config)."""

    name: str  # e.g. "latency_ms@ort-cpu", "mflops"
    unit: str
    fn: Callable[[Population], np.ndarray]
    minimum: Callable[[], tuple[float, Population]]
    spread: Callable[[Population], np.ndarray] | None = None  # std of the prediction, if known
    r_allowed: np.ndarray | None = None  # resolution indices it is defined at (None = all)

    def __call__(self, pop: Population) -> np.ndarray:
        return self.fn(pop)


@dataclass
class Constraint:
    cost: Cost
    limit: float

    def ok(self, pop: Population) -> np.ndarray:
        return self.cost(pop) <= self.limit


def feasible(constraints: list[Constraint], pop: Population) -> np.ndarray:
    mask = np.ones(len(pop), dtype=bool)
    for c in constraints:
        mask &= c.ok(pop)
    return mask


def check_reachable(space: SearchSpace, constraints: list[Constraint]) -> None:
    """Fail fast on a budget no sub-network meets, naming the smallest reachable value and its config."""
    for c in constraints:
        value, pop = c.cost.minimum()
        if value > c.limit:
            cfg = pop.configs(space)[0]
            raise InfeasibleError(
                f"no sub-network of {space.id} meets {c.cost.name} <= {c.limit:g} {c.cost.unit}: the smallest reachable "
                f"is {value:.4g} {c.cost.unit}, by {cfg.to_json()}; raise the budget to at least that")


def additive_cost(name: str, unit: str, table, spread: "Callable[[Population], np.ndarray] | None" = None) -> Cost:
    """Wrap an :class:`~ofa.cost_table.AdditiveCost` (exact minimum; ``spread``: the std of the prediction)."""
    allowed = table.r_allowed
    every = len(table.space.resolutions)  # an AdditiveCost or an OFA-ResNet one (ofa.resnet_cost_table)
    return Cost(name, unit, table, table.minimum, spread, None if len(allowed) == every else allowed)


def allowed_resolutions(space: SearchSpace, constraints: list[Constraint]) -> np.ndarray | None:
    """Resolution indices every constrained cost is defined at (None = no restriction)."""
    allowed = None
    for c in constraints:
        if c.cost.r_allowed is not None:
            allowed = c.cost.r_allowed if allowed is None else np.intersect1d(allowed, c.cost.r_allowed)
    if allowed is not None and len(allowed) == 0:
        raise InfeasibleError("the latency tables given share no resolution; build them for common resolutions")
    return allowed
