"""Search as one call: best sub-network per (device, budget), or Pareto fronts, with full figures."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ofa.cost_table import flops_table, params_table
from ofa.errors import ConfigError, InfeasibleError
from ofa.io import atomic_write, atomic_write_json
from ofa.manifest import ManifestHeader
from ofa.population import Population
from ofa.resnet_cost_table import resnet_flops_table, resnet_params_table
from ofa.search.acc_predictor import AccuracyPredictor
from ofa.search.constraints import Constraint, Cost, additive_cost
from ofa.search.evolution import EvolutionSettings, SearchHistory
from ofa.search.nsga2 import pareto_front
from ofa.search.result import Candidate, LatencyEstimate, SearchOutcome
from ofa.search.strategies import run_strategy
from ofa.spaces import SearchSpace
from ofa.spaces.resnet import ResNetSpace

log = logging.getLogger(__name__)
UNBOUNDED = 1e30
RANK_BY = ("mean", "lower_bound")


@dataclass
class SearchProblem:
    """What to search: a space, an accuracy predictor, latency models per device, and budgets.

    ``space`` is a MobileNetV3-family :class:`SearchSpace` or an OFA-ResNet :class:`ResNetSpace` (whose populations
    are :class:`~ofa.resnet_population.ResNetPopulation` gene matrices; FLOPs and params from its own tables)."""

    space: "SearchSpace | ResNetSpace"
    accuracy: AccuracyPredictor
    num_classes: int
    latency: dict[str, Cost] = field(default_factory=dict)  # device name -> latency cost (ms)
    flops_m: float | None = None
    params_m: float | None = None
    rank_by: str = "mean"  # "mean": the predictor's mean; "lower_bound": mean - ensemble std

    def __post_init__(self) -> None:
        if self.rank_by not in RANK_BY:
            raise ConfigError(f"rank_by must be one of {list(RANK_BY)}, got {self.rank_by!r}")
        if self.accuracy.space.id != self.space.id:
            raise ConfigError(f"accuracy predictor is for space {self.accuracy.space.id}, not {self.space.id}")
        flops, params = (resnet_flops_table, resnet_params_table) if isinstance(self.space, ResNetSpace) else (
            flops_table, params_table)
        self.flops = additive_cost("mflops", "MFLOPs", flops(self.space, self.num_classes))
        self.params = additive_cost("params_m", "M params", params(self.space, self.num_classes))

    def base_constraints(self) -> list[Constraint]:
        out = []
        if self.flops_m is not None:
            out.append(Constraint(self.flops, self.flops_m))
        if self.params_m is not None:
            out.append(Constraint(self.params, self.params_m))
        return out

    def fitness(self, pop: Population) -> np.ndarray:
        """What the search maximises: the predicted top-1's mean, or its lower bound (see ``rank_by``)."""
        return self.accuracy(pop) if self.rank_by == "mean" else self.accuracy.lower_bound(pop)

    def describe(self, pop: Population) -> list[Candidate]:
        """Predicted accuracy (mean, ensemble std), latency (mean/std) on every device, FLOPs and params of each row."""
        acc, acc_std = self.accuracy.predict_with_spread(pop)
        lat = {name: (cost(pop), cost.spread(pop) if cost.spread else np.zeros(len(pop))) for name, cost in self.latency.items()}
        flops, params = self.flops(pop), self.params(pop)
        return [Candidate(cfg.to_dict(), cfg.arch_string(self.space), float(acc[i]), float(acc_std[i]),
                          {n: LatencyEstimate(float(m[i]), float(s[i])) for n, (m, s) in lat.items()},
                          float(flops[i]), float(params[i]))
                for i, cfg in enumerate(pop.configs(self.space))]


RESULT_HEADER = ManifestHeader("search_result", 1, kind_optional=True)  # no kind before 0.1.0


def _device_cost(problem: SearchProblem, device: str) -> Cost:
    if device not in problem.latency:
        raise ConfigError(f"no latency model for device {device!r}; given: {sorted(problem.latency)}")
    return problem.latency[device]


def best_under_budget(problem: SearchProblem, device: str | None, latency_ms: float | None,
                      settings: EvolutionSettings = EvolutionSettings(), strategy: str = "evolution",
                      evaluations: int | None = None) -> tuple[SearchOutcome, SearchHistory]:
    """The best sub-network meeting ``latency_ms`` on ``device`` (and the problem's FLOPs/params caps).

    ``strategy`` is one of :data:`ofa.search.strategies.STRATEGIES` (OFA's evolution by default), with at most
    ``evaluations`` predictor evaluations (default: evolution's population x generations)."""
    constraints = problem.base_constraints()
    if device is not None:  # unbounded still keeps the search on resolutions the device's table covers
        constraints.append(Constraint(_device_cost(problem, device), UNBOUNDED if latency_ms is None else latency_ms))
    result = run_strategy(strategy, problem.space, problem.fitness, constraints, settings, evaluations)
    best = problem.describe(result.best)[0]
    outcome = SearchOutcome(device, latency_ms, best, result.seconds, result.evaluations, strategy)
    return outcome, result.history


def top_candidates(problem: SearchProblem, device: str, latency_ms: float, k: int,
                   settings: EvolutionSettings = EvolutionSettings(), strategy: str = "evolution") -> list[Candidate]:
    """The ``k`` best distinct sub-networks the search met under ``latency_ms`` on ``device``, best first.

    Every candidate the evolution evaluated meets the constraints, so these are the search's own
    runners-up: measuring them and keeping the best *measured* one counters the winner's curse of
    taking the single best-predicted network.
    """
    if k < 1:
        raise ConfigError(f"top-k needs k >= 1, got {k}")
    _, history = best_under_budget(problem, device, latency_ms, settings, strategy)
    pop = history.population()
    keys = np.ascontiguousarray(pop.key_rows(problem.space), dtype=np.int8)
    _, first = np.unique(keys, axis=0, return_index=True)
    fitness = np.concatenate(history.fitness)[first]
    best = first[np.argsort(-fitness, kind="stable")[:k]]
    return [cand.with_context(device=device, latency_budget_ms=latency_ms, rank=rank)
            for rank, cand in enumerate(problem.describe(pop.take(best)))]


def search_many(problem: SearchProblem, budgets: dict[str | None, list[float | None]],
                settings: EvolutionSettings = EvolutionSettings(), on_done=None, strategy: str = "evolution",
                evaluations: int | None = None) -> tuple[list[SearchOutcome], dict]:
    """Every (device, budget) pair; an infeasible budget becomes an outcome saying so, the rest still run."""
    rows, histories = [], {}
    for device, values in budgets.items():
        for budget in values:
            try:
                row, history = best_under_budget(problem, device, budget, settings, strategy, evaluations)
                histories[(device, budget)] = history
            except InfeasibleError as exc:
                row = SearchOutcome(device, budget, reason=str(exc))
                if device is not None and budget is not None:
                    value, pop = _device_cost(problem, device).minimum()
                    row = replace(row, min_latency_ms=value, fastest=problem.describe(pop)[0])
            rows.append(row)
            if on_done:
                on_done(row)
    return rows, histories


def pareto(problem: SearchProblem, device: str, settings: EvolutionSettings = EvolutionSettings(generations=200),
           max_latency_ms: float | None = None) -> list[Candidate]:
    """Accuracy/latency Pareto front on ``device`` (optionally capped), described row by row."""
    if not isinstance(problem.space, SearchSpace):
        raise ConfigError(f"--pareto (NSGA-II) takes MobileNetV3/ProxylessNAS spaces only; search {problem.space.id} "
                          "(OFA-ResNet) under budgets with the default evolution instead")
    cost = _device_cost(problem, device)
    constraints = problem.base_constraints() + [Constraint(cost, max_latency_ms or UNBOUNDED)]
    result = pareto_front(problem.space, problem.accuracy, cost, constraints, settings)
    rows = [row.with_context(device=device) for row in problem.describe(result.front)]
    log.info("front on %s: %d points in %.2f s (%d evaluations)", device, len(rows), result.seconds, result.evaluations)
    return rows


def history_frame(problem: SearchProblem, histories: dict) -> pd.DataFrame:
    """Every evaluated candidate of every search as one table (arch strings, fitness, costs)."""
    frames = []
    for (device, budget), hist in histories.items():
        pop = hist.population()
        frame = pd.DataFrame({"device": device, "latency_budget_ms": budget, "generation": np.concatenate(hist.generations),
                              "predicted_top1": np.concatenate(hist.fitness), "mflops": problem.flops(pop)})
        for name, cost in problem.latency.items():
            frame[f"latency_ms@{name}"] = cost(pop)
        frame["arch"] = [c.arch_string(problem.space) for c in pop.configs(problem.space)]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def write_results(out: "str | Path", rows: "list[SearchOutcome | Candidate]", history: pd.DataFrame | None,
                  settings: dict) -> list[dict]:
    """``search_result.json``, one ``subnets/<device>-<budget>ms.json`` per feasible row (a front point:
    ``<device>-frontNNN.json``), ``history.csv``.

    The rows are written in their flat JSON form (:meth:`SearchOutcome.to_json`), each feasible one with
    the ``subnet_file`` it was saved to; those JSON rows are returned."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for n, row in enumerate(rows):
        data = row.to_json()
        if data.get("feasible", True) and "subnet" in data:
            budget = data.get("latency_budget_ms")  # front points have none: numbered in front order
            label = f"{data.get('device') or 'any'}-" + (f"{budget}ms" if budget else f"front{n:03d}")
            data["subnet_file"] = f"subnets/{label}.json"
            atomic_write_json(out / data["subnet_file"], data["subnet"])
        written.append(data)
    atomic_write_json(out / "search_result.json", {**RESULT_HEADER.fields(), "settings": settings,
                                                    "results": written})
    if history is not None and len(history):
        atomic_write(out / "history.csv", lambda tmp: history.to_csv(tmp, index=False))
    return written
