"""Bayesian optimisation with Optuna's TPE sampler (Bergstra et al., NeurIPS'11), constraints included.

Every gene is a categorical parameter (kernel size and expand ratio per slot, depth per stage, the
resolution). Each trial records ``cost - limit`` of every constraint, which Optuna's constrained TPE
uses to prefer feasible regions; the first trials are feasible random networks (enqueued), so a small
feasible region is still found. The best *feasible* trial is the result. TPE costs milliseconds per
trial (it models all past trials), so it suits budgets of hundreds to a few thousand evaluations.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ofa.errors import ConfigError
from ofa.population import Population
from ofa.search.constraints import Constraint, allowed_resolutions
from ofa.search.evolution import EvolutionSettings, SearchHistory, SearchResult, initial_population
from ofa.search.strategies.common import result_of
from ofa.spaces import SearchSpace

SEED_TRIALS = 10


def _optuna():
    try:
        import optuna
    except ModuleNotFoundError:
        raise ConfigError("the bayesian strategy needs Optuna: pip install 'ofa-deploy[search]' (or optuna)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)  # constraints (Optuna 4)
    return optuna


def _params(pop: Population, i: int) -> dict:
    out = {f"ks{j}": int(v) for j, v in enumerate(pop.ks[i])} | {f"e{j}": int(v) for j, v in enumerate(pop.e[i])}
    return out | {f"d{j}": int(v) for j, v in enumerate(pop.d[i])} | {"r": int(pop.r[i])}


def _suggest(trial, space: SearchSpace, r_choices) -> Population:
    slots, stages = space.n_block_slots, space.n_stages
    ks = [trial.suggest_categorical(f"ks{j}", list(range(len(space.ks_choices)))) for j in range(slots)]
    e = [trial.suggest_categorical(f"e{j}", list(range(len(space.e_choices)))) for j in range(slots)]
    d = [trial.suggest_categorical(f"d{j}", list(range(len(space.d_choices)))) for j in range(stages)]
    r = trial.suggest_categorical("r", [int(v) for v in (r_choices if r_choices is not None
                                                          else range(len(space.resolutions)))])
    return Population(np.array([ks]), np.array([e]), np.array([d]), np.array([r]))


def bayesian(space: SearchSpace, fitness, constraints: list[Constraint], settings: EvolutionSettings,
             evaluations: int) -> SearchResult:
    optuna = _optuna()
    start = time.perf_counter()
    rng = np.random.default_rng(settings.seed)
    r_choices = allowed_resolutions(space, constraints)
    seeds = initial_population(space, constraints, settings, rng).take(slice(0, min(SEED_TRIALS, evaluations)))
    native = hasattr(optuna.trial.Trial, "set_constraint")  # Optuna >= 5; older ones take a constraints_func
    extra = {} if native else {"constraints_func": lambda t: t.user_attrs["violation"]}
    sampler = optuna.samplers.TPESampler(seed=settings.seed, n_startup_trials=min(len(seeds) + 10, evaluations),
                                         **extra)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for i in range(len(seeds)):
        study.enqueue_trial(_params(seeds, i))
    history = SearchHistory()

    def objective(trial) -> float:
        pop = _suggest(trial, space, r_choices)
        violation = [float(c.cost(pop)[0] - c.limit) for c in constraints]
        if native:
            for i, (c, v) in enumerate(zip(constraints, violation)):
                trial.set_constraint(f"{i}:{c.cost.name}", v)
        else:
            trial.set_user_attr("violation", violation)
        value = float(fitness(pop)[0])
        if all(v <= 0 for v in violation):
            history.add(trial.number, pop, np.array([value]))
        return value

    study.optimize(objective, n_trials=evaluations)
    return result_of(history, start, len(study.trials))  # infeasible trials were evaluated too
