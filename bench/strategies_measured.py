"""The measured-evaluation budget of bench/strategies.py (``--measured N``): every strategy searches with a fitness
that *measures* each network it asks about, against the same strategy's pick after 10,000 predictor queries,
measured once.

Same problem as the predictor-query part (the demo zoo's reduced sub-space, ORT latency table, the middle latency
budget). Measuring a network = extracting it from the demo supernet with inherited weights, recalibrating BN on
``--calib-images`` training images (as ``ofa acc build`` did for the predictor's table) and counting top-1 on the
*search* images: the first ``--val-images`` of the built-in digits validation split
(:class:`ofa.search.measured.MeasuredFitness`, one measurement per distinct network). The rest of the split is
never seen by a search: each chosen network's top-1 on it (``holdout_top1``) is the fair comparison, since the
best of N measurements on the search images is biased upwards by the choice itself.

Per strategy and seed: best measured top-1 found, distinct networks measured, fitness queries the strategy counted
(repeats included: the strategies count queries, a repeat is measured once), wall-clock seconds; and the predictor
arm: the same strategy and seed with ``--predictor-queries`` predictor queries, its pick measured on both splits.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import numpy as np

from ofa.artifacts import load_supernet
from ofa.data import open_dataset
from ofa.search.accuracy_table import SubnetEvaluator
from ofa.search.constraints import Constraint
from ofa.search.evolution import EvolutionSettings
from ofa.search.measured import MeasuredFitness
from ofa.search.strategies import run_strategy

NOTES = [
    "measured.top1: best top-1 on the search images among the networks the search measured (biased upwards by the "
    "choice); holdout_top1: the same network on the held-out rest of the validation split (the fair comparison)",
    "measured.measured: distinct networks measured; queries_counted: fitness queries the strategy counted, repeats "
    "included (a repeat is not measured again); reinforce also measures the infeasible networks it samples",
    "bayesian with N <= 20: its 10 seed trials plus TPE's startup trials fill the budget, so it samples at random",
    "predictor arm: the same strategy and seed with --predictor-queries predictor queries (bayesian: --bayesian-max), "
    "its pick measured once on each split; its seconds exclude that measurement",
    "measured.found_at: the best network's position in the strategy's history of feasible evaluations (1-based; "
    "the first `population` (10) are the strategy's initial random population, the same for every strategy at a "
    "seed (bayesian enqueues the same 10 as its seed trials); nsga2: none, its history keeps only its fronts)",
    "predicted_optimum: the exhaustive best predicted network under the budget (what a perfect predictor search "
    "finds), measured once on each split",
]


def split_evaluators(supernet, data: str, calib_images: int, search_images: int, seed: int = 0):
    """Two evaluators sharing one set of calibration images: the first ``search_images`` validation images, and
    the rest of the validation split (held out from every search)."""
    full = SubnetEvaluator(supernet, open_dataset(data), calib_images, seed=seed)
    if not 0 < search_images < len(full.val_y):
        raise SystemExit(f"--val-images must be between 1 and {len(full.val_y) - 1} (the split has {len(full.val_y)})")
    search, holdout = copy.copy(full), copy.copy(full)
    search.val_x, search.val_y = full.val_x[:search_images], full.val_y[:search_images]
    holdout.val_x, holdout.val_y = full.val_x[search_images:], full.val_y[search_images:]
    return search, holdout


class MeasuredBench:
    """The problem of bench/strategies.py, searched by measurement and by the predictor."""

    def __init__(self, problem, zoo: Path, data: str, calib_images: int, search_images: int):
        self.problem = problem
        supernet = load_supernet(zoo / "_work" / "train" / "supernet")
        self.space = supernet.space
        self.search_eval, self.holdout_eval = split_evaluators(supernet, data, calib_images, search_images)
        self.val_images = (len(self.search_eval.val_y), len(self.holdout_eval.val_y))
        # measurements made to *report* a pick (not spent by any search): shared, each network measured once
        self.report_search = MeasuredFitness(self.search_eval, self.space, problem.reduced.lift)
        self.report_holdout = MeasuredFitness(self.holdout_eval, self.space, problem.reduced.lift)

    def _pick(self, best) -> dict:
        cfg = self.problem.reduced.lift(best).configs(self.space)[0]
        return {"arch": cfg.arch_string(self.space), "top1": float(self.report_search(best)[0]),
                "holdout_top1": float(self.report_holdout(best)[0]),
                "predicted_top1": round(float(self.problem.accuracy(best)[0]), 5),
                "latency_ms": round(float(self.problem.cost(best)[0]), 4)}

    def measured(self, strategy: str, budget: float, n: int, seed: int) -> dict:
        fitness = MeasuredFitness(self.search_eval, self.space, self.problem.reduced.lift)
        result = run_strategy(strategy, self.problem.reduced.space, fitness, [Constraint(self.problem.cost, budget)],
                              _settings(n, seed), n)
        pick = self._pick(result.best)
        if abs(pick["top1"] - result.fitness) > 1e-12:
            raise RuntimeError(f"{strategy}: the search's best {result.fitness} is not its measured {pick['top1']}")
        return {**pick, "found_at": _found_at(strategy, result), "measured": fitness.measured,
                "queries_counted": int(result.evaluations),
                "seconds": round(result.seconds, 2), "measuring_seconds": round(fitness.seconds, 2)}

    def predicted(self, strategy: str, budget: float, n: int, seed: int) -> dict:
        result = run_strategy(strategy, self.problem.reduced.space, self.problem.accuracy,
                              [Constraint(self.problem.cost, budget)], _settings(n, seed), n)
        t0 = time.perf_counter()
        pick = self._pick(result.best)
        return {**pick, "queries": int(result.evaluations), "search_seconds": round(result.seconds, 2),
                "measure_seconds": round(time.perf_counter() - t0, 2)}


def _found_at(strategy: str, result) -> int | None:
    """1-based position of the best network in the search's history (None for NSGA-II: it keeps its fronts)."""
    if strategy == "nsga2":
        return None
    return int(np.argmax(np.concatenate(result.history.fitness) >= result.fitness)) + 1


def _settings(evaluations: int, seed: int) -> EvolutionSettings:
    """The population rule of bench/strategies.py: a tenth of the budget, 10 to 100."""
    return EvolutionSettings(population=min(100, max(10, evaluations // 10)), seed=seed)


def summary(rows: list[dict]) -> dict:
    """Means over seeds of one strategy, and how often measuring beat the predictor's pick on the held-out images."""
    def mean(arm, key):
        return round(float(np.mean([r[arm][key] for r in rows])), 4)

    return {"strategy": rows[0]["strategy"], "seeds": len(rows),
            "measured_top1_mean": mean("measured", "top1"), "measured_holdout_top1_mean": mean("measured", "holdout_top1"),
            "predictor_top1_mean": mean("predictor", "top1"),
            "predictor_holdout_top1_mean": mean("predictor", "holdout_top1"),
            "measured_mean": mean("measured", "measured"), "measured_seconds_mean": mean("measured", "seconds"),
            "predictor_seconds_mean": mean("predictor", "search_seconds"),
            "holdout_wins_ties_losses": [int(sum(np.sign(r["measured"]["holdout_top1"] - r["predictor"]["holdout_top1"]) == s
                                                 for r in rows)) for s in (1, 0, -1)]}


def run(problem, args, report: dict, write) -> dict:
    """Fill ``report`` strategy by strategy (``write(report)`` after each one: an interrupted run keeps them)."""
    bench = MeasuredBench(problem, args.zoo, args.data, args.calib_images, args.val_images)
    budget = problem.budgets[len(problem.budgets) // 2]
    report.update({"bench": "strategies_measured", "measured_budget": args.measured, "budget_ms": budget,
                   "val_images_search_holdout": list(bench.val_images), "calib_images": args.calib_images,
                   "rows": [], "summary": [], "notes": NOTES,
                   "predicted_optimum": bench._pick(problem.optimum_row[budget])})
    for strategy in args.strategies.split(","):
        queries = args.bayesian_max if strategy == "bayesian" else args.predictor_queries
        rows = []
        for seed in range(args.seeds):
            row = {"strategy": strategy, "seed": seed, "measured": bench.measured(strategy, budget, args.measured, seed),
                   "predictor": bench.predicted(strategy, budget, min(queries, args.predictor_queries), seed)}
            print(row, file=sys.stderr, flush=True)
            rows.append(row)
        report["rows"] += rows
        report["summary"].append(summary(rows))
        write(report)
    return report
