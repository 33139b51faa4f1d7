"""Search strategies side by side on one problem whose true optimum is known.

The problem: the demo zoo's supernet, 5-MLP accuracy predictor and ORT latency table, searched over the
enumerable sub-space of bench/search_quality.py (kernel 3/7, expand 3/6, depth 2, the largest resolution:
4^10 = 1,048,576 sub-networks). Every network of it is scored once (predicted top-1, predicted latency),
which gives the exact best network under each latency budget and the exact accuracy/latency front.

For every strategy of ``ofa.search.strategies``, every evaluation budget (predictor queries: 100, 1,000,
10,000) and every seed, one search per latency budget (the 25th / 50th / 75th percentile of the sub-space's
latencies). Reported per (strategy, evaluations, budget): mean and worst best-found predicted top-1 over
the seeds, the mean gap to the exhaustive optimum, how many seeds found the optimum, evaluations spent and
seconds per search. Per (strategy, evaluations): the hypervolume of the front of every network the three
searches of a seed evaluated, over the exhaustive front's hypervolume (same reference point). The plot
shows the best-so-far gap to the optimum against evaluations (middle budget, mean over seeds; not for
NSGA-II, whose result keeps only its final front).

Predicted accuracy is the search's own objective: gaps under the predictor's held-out RMSE (~0.5 points on
the demo) are not differences in real accuracy. Timings are wall-clock on a machine whose cores other jobs
shared (see ``machine.load_average_1min``).

    make demo && .venv/bin/python bench/strategies.py                     # ~25 min on 2 shared cores
    .venv/bin/python bench/strategies.py --zoo runs/demo --evaluations 100,1000 --seeds 2   # quicker

Prints JSON and writes bench/results/strategies.json and bench/results/strategies_best_so_far.png, both
rewritten after every strategy (an interrupted run keeps the strategies it finished).

``--measured N``: the small budget of *measured* evaluations instead (bench/strategies_measured.py): each strategy
spends N fitness queries that measure the network (inherited weights, BN recalibrated, top-1 on digits), next to
its pick after 10,000 predictor queries, measured once; the middle latency budget; writes
bench/results/strategies_measured.json.

    .venv/bin/python bench/strategies.py --zoo runs/demo --measured 20 --seeds 3      # ~20 min on 1 shared core
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
from search_quality import Reduced, chunked, front_hv, reduced_cost  # noqa: E402

from ofa.artifacts import read_manifest  # noqa: E402
from ofa.population import Population  # noqa: E402
from ofa.search.acc_predictor import AccuracyPredictor  # noqa: E402
from ofa.search.constraints import Constraint  # noqa: E402
from ofa.search.evolution import EvolutionSettings  # noqa: E402
from ofa.search.latency_costs import load_latency_cost  # noqa: E402
from ofa.search.strategies import STRATEGIES, run_strategy  # noqa: E402
from ofa.spaces import SearchSpace  # noqa: E402

BUDGET_QUANTILES = (0.25, 0.5, 0.75)
CURVE_AT = (10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
NO_TRACE = ("nsga2",)  # its result keeps the final front, not every evaluation in order: no best-so-far curve


def _exhaustive(problem, everything: Population, work: Path) -> tuple[np.ndarray, np.ndarray]:
    """Predicted top-1 and latency of every network, cached next to results (keyed by the predictor and LUT)."""
    from ofa.io import sha256_file

    key = sha256_file(work / "accuracy" / "predictor.safetensors")[:12] + "-" + problem.device
    cache = ROOT / "results" / "tmp" / f"strategies_exhaustive_{key}.npz"
    if cache.is_file():
        data = np.load(cache)
        return data["acc"], data["lat"]
    acc, lat = chunked(problem.accuracy, everything), chunked(problem.cost, everything)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, acc=acc, lat=lat)
    return acc, lat


class Problem:
    """The demo's predictor and latency table on the reduced space, with its exhaustive answers."""

    def __init__(self, zoo: Path, device: str):
        work = zoo / "_work"
        space = SearchSpace.from_dict(read_manifest(work / "train" / "supernet", "supernet")["space"])
        self.device, cost = load_latency_cost(str(work / "luts" / device), space)
        predictor = AccuracyPredictor.load(work / "accuracy")
        self.reduced = Reduced(space)
        everything = self.reduced.enumerate()
        self.accuracy = lambda pop: predictor(self.reduced.lift(pop))
        self.cost = reduced_cost(cost, self.reduced, everything)
        t0 = time.perf_counter()
        acc, lat = _exhaustive(self, everything, work)
        self.exhaustive_seconds = time.perf_counter() - t0
        self.ref_cost = float(lat.max())
        self.front_hv, self.front_points = front_hv(acc, lat, self.ref_cost)
        self.budgets = [round(float(np.quantile(lat, q)), 4) for q in BUDGET_QUANTILES]
        self.optimum = {b: float(acc[lat <= b].max()) for b in self.budgets}
        self.optimum_row = {b: everything.take([int(np.argmax(np.where(lat <= b, acc, -np.inf)))]) for b in self.budgets}
        self.size = len(everything)

    def search(self, strategy: str, budget: float, evaluations: int, seed: int) -> dict:
        settings = EvolutionSettings(population=min(100, max(10, evaluations // 10)), seed=seed)
        result = run_strategy(strategy, self.reduced.space, self.accuracy, [Constraint(self.cost, budget)], settings,
                              evaluations)
        fitness = np.concatenate(result.history.fitness)
        return {"best": result.fitness, "spent": result.evaluations, "seconds": result.seconds,
                "curve": np.maximum.accumulate(fitness), "evaluated": result.history.population(), "fitness": fitness}


def run_group(problem: Problem, strategy: str, evaluations: int, seeds: int) -> tuple[list[dict], dict, dict]:
    """Rows per budget, the hypervolume row and the middle budget's best-so-far gaps, for one strategy/budget."""
    runs = {b: [problem.search(strategy, b, evaluations, s) for s in range(seeds)] for b in problem.budgets}
    rows = []
    for budget, found in runs.items():
        best = np.array([r["best"] for r in found])
        gap = (problem.optimum[budget] - best) * 100
        rows.append({"strategy": strategy, "evaluations": evaluations, "budget_ms": budget,
                     "mean_top1": round(float(best.mean()), 5), "worst_top1": round(float(best.min()), 5),
                     "optimum_top1": round(problem.optimum[budget], 5), "mean_gap_pct_points": round(float(gap.mean()), 3),
                     "seeds_at_optimum": int((gap <= 1e-6).sum()),
                     "spent": round(float(np.mean([r["spent"] for r in found])), 1),
                     "seconds": round(float(np.mean([r["seconds"] for r in found])), 3)})
    ratios = []
    for seed in range(seeds):
        pop = Population.concat([runs[b][seed]["evaluated"] for b in problem.budgets])
        acc = np.concatenate([runs[b][seed]["fitness"] for b in problem.budgets])
        ratios.append(front_hv(acc, problem.cost(pop), problem.ref_cost)[0] / problem.front_hv)
    hv = {"strategy": strategy, "evaluations": evaluations, "hv_ratio_mean": round(float(np.mean(ratios)), 5),
          "hv_ratio_worst": round(float(np.min(ratios)), 5)}
    middle = problem.budgets[len(problem.budgets) // 2]
    return rows, hv, {"strategy": strategy, "evaluations": evaluations, "curve": _gap_curve(problem, runs[middle], middle)}


def _gap_curve(problem: Problem, runs: list[dict], budget: float) -> dict[int, float]:
    out = {}
    for n in CURVE_AT:
        reached = [r["curve"][min(n, len(r["curve"])) - 1] for r in runs if len(r["curve"])]
        if reached and n <= max(len(r["curve"]) for r in runs):
            out[n] = round(float(np.mean([(problem.optimum[budget] - v) * 100 for v in reached])), 4)
    return out


def plot(curves: list[dict], path: Path, budget: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    largest = {}
    curves = [c for c in curves if c["strategy"] not in NO_TRACE]
    for c in curves:  # each strategy's curve at the largest evaluation budget it ran
        if c["evaluations"] >= largest.get(c["strategy"], {"evaluations": 0})["evaluations"]:
            largest[c["strategy"]] = c
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, c in largest.items():
        curve = {int(n): gap for n, gap in c["curve"].items()}  # JSON keys are strings
        xs = sorted(curve)
        ax.plot(xs, [max(curve[x], 1e-3) for x in xs], marker="o", label=f"{name} ({c['evaluations']:,})")
    ax.set(xscale="log", yscale="log", xlabel="evaluations (predictor queries)",
           ylabel="gap to the optimum (points; 0 drawn at 1e-3)",
           title=f"best-so-far under {budget:g} ms (1,048,576-network sub-space)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=Path("runs/demo"), help="a zoo built by `make demo`")
    parser.add_argument("--device", default="local-ort-cpu")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--evaluations", default="100,1000,10000", help="comma-separated predictor-query budgets")
    parser.add_argument("--bayesian-max", type=int, default=1000, help="skip bayesian above this many evaluations "
                        "(TPE costs ~40 ms per trial here, growing with the trials)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--result", type=Path, default=None, help="default: bench/results/strategies.json, "
                        "or strategies_measured.json with --measured")
    parser.add_argument("--replot", action="store_true", help="only redraw the plot from --result")
    parser.add_argument("--measured", type=int, default=0, help="N measured evaluations per search instead")
    parser.add_argument("--predictor-queries", type=int, default=10000, help="with --measured: the predictor arm")
    parser.add_argument("--val-images", type=int, default=180, help="with --measured: validation images a search "
                        "measures on (the rest of the split is held out to judge the picks)")
    parser.add_argument("--calib-images", type=int, default=300, help="with --measured: BN recalibration images")
    parser.add_argument("--data", default="builtin", help="with --measured: the zoo's dataset")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    args.result = args.result or ROOT / "results" / ("strategies_measured.json" if args.measured else "strategies.json")
    if args.replot:
        done = json.loads(args.result.read_text())
        plot(done["curves"], args.result.with_name("strategies_best_so_far.png"), done["budgets_ms"][1])
        return
    problem = Problem(args.zoo, args.device)
    if args.measured:
        return measured(problem, args)
    report = {"bench": "strategies", "command": "python " + " ".join(sys.argv), "device": problem.device,
              "space": f"{problem.reduced.space.id} ({problem.size:,} networks)", "budgets_ms": problem.budgets,
              "budget_quantiles": BUDGET_QUANTILES, "seeds": args.seeds,
              "exhaustive": {"seconds": round(problem.exhaustive_seconds, 1), "front_points": problem.front_points,
                             "hv": problem.front_hv, "ref_cost_ms": problem.ref_cost, "optimum_top1": problem.optimum},
              "skipped": [], "rows": [], "hypervolume": [], "curves": [], "machine": machine.describe(),
              "note": "wall-clock seconds on 2 CPU cores that other jobs shared"}
    t0 = time.perf_counter()
    for strategy in args.strategies.split(","):
        for evaluations in (int(v) for v in args.evaluations.split(",")):
            if strategy == "bayesian" and evaluations > args.bayesian_max:
                report["skipped"].append(f"bayesian at {evaluations} evaluations (over --bayesian-max)")
                continue
            rows, hv, curve = run_group(problem, strategy, evaluations, args.seeds)
            if strategy in NO_TRACE:
                curve["curve"] = {}
            report["rows"] += rows
            report["hypervolume"].append(hv)
            report["curves"].append(curve)
            print(json.dumps({"hv": hv, "rows": rows}), file=sys.stderr, flush=True)
        report["total_seconds"] = round(time.perf_counter() - t0, 1)
        report["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        args.result.parent.mkdir(parents=True, exist_ok=True)
        args.result.write_text(json.dumps(report, indent=1) + "\n")
        plot(report["curves"], args.result.with_name("strategies_best_so_far.png"), problem.budgets[1])
    print(json.dumps(report, indent=1))


def measured(problem: Problem, args) -> None:
    import strategies_measured
    import torch

    torch.set_num_threads(args.threads)
    report = {"command": "python " + " ".join(sys.argv), "device": problem.device, "machine": machine.describe(),
              "space": f"{problem.reduced.space.id} ({problem.size:,} networks)", "seeds": args.seeds,
              "note": "only the middle latency budget (of bench/strategies.py's three); wall-clock seconds on a "
                      "machine whose cores other jobs shared (load in machine)"}

    def write(done: dict) -> None:
        done.update(total_seconds=round(time.perf_counter() - t0, 1), time=time.strftime("%Y-%m-%dT%H:%M:%S"))
        args.result.parent.mkdir(parents=True, exist_ok=True)
        args.result.write_text(json.dumps(done, indent=1) + "\n")

    t0 = time.perf_counter()
    print(json.dumps(strategies_measured.run(problem, args, report, write), indent=1))


if __name__ == "__main__":
    main()
