"""Search strategies side by side on one problem: the demo zoo's supernet, accuracy predictor and latency table.

For every strategy of ``ofa.search.strategies`` and every evaluation budget (predictor queries), each seed
searches the best sub-network under three latency budgets (1.3x, 1.8x and 2.5x the fastest network's
predicted latency). Reported per (strategy, evaluations, budget): the mean and worst predicted top-1 over
the seeds, the mean evaluations actually spent, and the mean seconds per search. The demo space is far
too large to enumerate, so the yardstick is the best mean any strategy found (``gap_to_best_found``);
the exhaustive comparison on an enumerable space is tests/test_search_strategies.py. Predicted accuracy
is the search's own objective: differences below the predictor's held-out RMSE (~0.5 points on the demo)
are not differences in real accuracy.

    make demo && .venv/bin/python bench/strategies.py                    # ~6 min on 2 cores
    .venv/bin/python bench/strategies.py --evaluations 100,1000 --seeds 5

Prints JSON and writes bench/results/strategies.json (with the command that produced it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

from ofa.artifacts import read_manifest  # noqa: E402
from ofa.search.acc_predictor import AccuracyPredictor  # noqa: E402
from ofa.search.api import SearchProblem, best_under_budget  # noqa: E402
from ofa.search.evolution import EvolutionSettings  # noqa: E402
from ofa.search.latency_costs import load_latency_cost  # noqa: E402
from ofa.search.strategies import STRATEGIES  # noqa: E402
from ofa.spaces import SearchSpace  # noqa: E402

BUDGET_FACTORS = (1.3, 1.8, 2.5)


def demo_problem(zoo: Path, device: str) -> tuple[SearchProblem, str, list[float]]:
    work = zoo / "_work"
    manifest = read_manifest(work / "train" / "supernet", "supernet")
    space = SearchSpace.from_dict(manifest["space"])
    name, cost = load_latency_cost(str(work / "luts" / device), space)
    problem = SearchProblem(space, AccuracyPredictor.load(work / "accuracy"), int(manifest["num_classes"]), {name: cost})
    fastest, _ = cost.minimum()
    return problem, name, [round(fastest * f, 4) for f in BUDGET_FACTORS]


def run(problem: SearchProblem, device: str, strategy: str, budget: float, evaluations: int, seeds: int) -> dict:
    top1, spent, seconds = [], [], []
    for seed in range(seeds):
        settings = EvolutionSettings(population=min(100, max(10, evaluations // 10)), seed=seed)
        row, _ = best_under_budget(problem, device, budget, settings, strategy, evaluations)
        top1.append(row["predicted_top1"])
        spent.append(row["evaluations"])
        seconds.append(row["search_seconds"])
    return {"strategy": strategy, "evaluations": evaluations, "budget_ms": budget,
            "mean_top1": round(float(np.mean(top1)), 5), "worst_top1": round(float(np.min(top1)), 5),
            "spent": round(float(np.mean(spent)), 1), "seconds": round(float(np.mean(seconds)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=Path("runs/demo"), help="a zoo built by `make demo`")
    parser.add_argument("--device", default="local-ort-cpu")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--evaluations", default="100,1000", help="comma-separated predictor-query budgets")
    parser.add_argument("--bayesian-max", type=int, default=1000, help="skip bayesian above this many evaluations "
                        "(TPE costs ~40 ms per trial here)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--result", type=Path, default=ROOT / "results" / "strategies.json")
    args = parser.parse_args()
    problem, device, budgets = demo_problem(args.zoo, args.device)
    rows = []
    t0 = time.perf_counter()
    for evaluations in (int(v) for v in args.evaluations.split(",")):
        for strategy in args.strategies.split(","):
            if strategy == "bayesian" and evaluations > args.bayesian_max:
                continue
            for budget in budgets:
                rows.append(run(problem, device, strategy, budget, evaluations, args.seeds))
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    best = {b: max(r["mean_top1"] for r in rows if r["budget_ms"] == b) for b in budgets}
    for r in rows:
        r["gap_to_best_found"] = round(best[r["budget_ms"]] - r["mean_top1"], 5)
    report = {"bench": "strategies", "command": "python " + " ".join(sys.argv), "device": device,
              "budgets_ms": budgets, "seeds": args.seeds, "rows": rows, "total_seconds": round(time.perf_counter() - t0, 1),
              "machine": machine.describe(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
