"""Search strategies over one supernet: the same problem in, the same result out.

Every strategy maximises ``fitness`` (predicted accuracy) over a space subject to ``constraints``
(latency, FLOPs, params caps), spends at most ``evaluations`` fitness evaluations, is deterministic for
a seed, fails fast with :class:`~ofa.errors.InfeasibleError` (naming the reachable minimum) when no
sub-network meets the constraints, and returns a :class:`~ofa.search.evolution.SearchResult`: the
best feasible network and the history of every evaluation (for best-so-far curves).

- ``evolution``: OFA's evolutionary search (:func:`ofa.search.evolution.evolve`); the only one that also
  takes an OFA-ResNet space (the others refuse it with a :class:`~ofa.errors.ConfigError`).
- ``aging``: regularized (aging) evolution with tournament selection (Real et al., AmoebaNet).
- ``random``: random search over the feasible region.
- ``reinforce``: a REINFORCE controller over per-slot choices (MnasNet-style reward, see its module).
- ``bayesian``: Bayesian optimisation with Optuna's TPE sampler and its constraint handling.
- ``nsga2``: NSGA-II on (accuracy, first constraint's cost); the best feasible point of its front.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ofa.errors import ConfigError
from ofa.population import Population
from ofa.search.constraints import Constraint
from ofa.search.evolution import EvolutionSettings, SearchResult
from ofa.spaces import SearchSpace

Fitness = Callable[[Population], np.ndarray]
STRATEGIES = ("evolution", "aging", "random", "reinforce", "bayesian", "nsga2")


def default_evaluations(settings: EvolutionSettings) -> int:
    """The evaluation budget of OFA's evolution at these settings: the first population plus one per child."""
    return settings.population * (settings.generations + 1)


def run_strategy(name: str, space: SearchSpace, fitness: Fitness, constraints: list[Constraint],
                 settings: EvolutionSettings = EvolutionSettings(), evaluations: int | None = None) -> SearchResult:
    """Run strategy ``name`` with at most ``evaluations`` fitness evaluations (default: evolution's budget)."""
    budget = default_evaluations(settings) if evaluations is None else int(evaluations)
    if budget < 1:
        raise ConfigError(f"a search needs at least one evaluation, got {evaluations}")
    if name == "evolution":
        from ofa.search.evolution import evolve

        generations = max(0, (budget - settings.population) // max(settings.population, 1))
        return evolve(space, fitness, constraints, _with(settings, generations=generations))
    if name not in STRATEGIES:
        raise ConfigError(f"unknown search strategy {name!r}; choose one of {list(STRATEGIES)}")
    if not isinstance(space, SearchSpace):  # an OFA-ResNet space: only the evolution works on its gene matrix
        raise ConfigError(f"search strategy {name!r} takes MobileNetV3/ProxylessNAS spaces only; {space.id} "
                          "(OFA-ResNet) is searched with --strategy evolution (the default)")
    run = _load(name)
    return run(space, fitness, constraints, settings, budget)


def _load(name: str):
    if name == "aging":
        from ofa.search.strategies.aging import aging_evolution as run
    elif name == "random":
        from ofa.search.strategies.random_search import random_search as run
    elif name == "reinforce":
        from ofa.search.strategies.reinforce import reinforce as run
    elif name == "bayesian":
        from ofa.search.strategies.bayesian import bayesian as run
    else:
        from ofa.search.strategies.nsga2_best import nsga2_best as run
    return run


def _with(settings: EvolutionSettings, **changes) -> EvolutionSettings:
    from dataclasses import replace

    return replace(settings, **changes)
