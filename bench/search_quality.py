"""Accuracy predictor and search quality on a trained supernet (the demo's, by default).

1. Accuracy table: ``--samples`` random sub-networks measured (BN recalibration + held-out split);
   reports sub-networks evaluated per minute. Resumable (kept under bench/results/tmp/).
2. Predictor: RMSE and Kendall tau on a held-out 20% for 100 / 200 / 300 / all training rows, against
   ranking by FLOPs.
3. Search quality, accuracy (predicted) vs latency (the device's LUT):
   - full space: NSGA-II front vs random search with the same number of evaluations (hypervolume);
   - a reduced space small enough to enumerate (kernel 3/7, expand 3/6, depth 2, largest resolution:
     4^10 = 1,048,576 sub-networks): exhaustive front vs NSGA-II vs random (hypervolume ratio), and
     the evolution's best under three budgets vs the exhaustive optimum.
4. Real accuracy of sub-networks on the front: evaluated (not predicted), next to the prediction.

    .venv/bin/python bench/search_quality.py --zoo runs/demo          # after `make demo`
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ofa.artifacts import load_supernet
from ofa.data import open_dataset
from ofa.io import sha256_file
from ofa.population import Population
from ofa.search.acc_predictor import fit_and_evaluate
from ofa.search.accuracy_table import SubnetEvaluator, build_accuracy_table
from ofa.search.constraints import Constraint, Cost
from ofa.search.evolution import EvolutionSettings, evolve
from ofa.search.latency_costs import load_latency_cost
from ofa.search.nsga2 import front_2d, hypervolume_2d, pareto_front
from ofa.search.population import sample
from ofa.spaces import get_space

RESULTS = Path(__file__).resolve().parent / "results"
KS_KEEP, E_KEEP = (3, 7), (3, 6)


class Reduced:
    """A sub-space of ``space`` as its own SearchSpace, with index maps back into ``space``."""

    def __init__(self, space):
        r_max = max(space.resolutions)
        self.space = get_space({**space.model_dump(), "id": space.id + "_reduced", "ks_choices": KS_KEEP,
                                "e_choices": E_KEEP, "d_choices": (2,), "resolutions": (r_max,)})
        self.ks = np.array([space.ks_choices.index(k) for k in KS_KEEP])
        self.e = np.array([space.e_choices.index(e) for e in E_KEEP])
        self.d = np.array([space.d_choices.index(2)])
        self.r = np.array([space.resolutions.index(r_max)])
        self.full_slots = space.n_block_slots
        self.slots = np.array([stage * space.max_depth + p for stage in range(space.n_stages) for p in range(2)])

    def lift(self, pop: Population) -> Population:
        """Reduced rows (2 slots per stage) as rows of the full space (its first 2 slots of each stage)."""
        ks = np.zeros((len(pop), self.full_slots), dtype=np.int64)
        e = np.zeros_like(ks)
        ks[:, self.slots], e[:, self.slots] = self.ks[pop.ks], self.e[pop.e]
        return Population(ks, e, self.d[pop.d], self.r[pop.r])

    def enumerate(self) -> Population:
        """Every architecture once: each of the 10 slots takes all 4 (k, e) pairs."""
        s = self.space
        codes = np.arange(4 ** s.n_block_slots)
        ks = np.zeros((len(codes), s.n_block_slots), dtype=np.int64)
        e = np.zeros_like(ks)
        for slot in range(s.n_block_slots):
            pair = (codes // 4 ** slot) % 4
            ks[:, slot], e[:, slot] = pair // 2, pair % 2
        n = len(codes)
        return Population(ks, e, np.zeros((n, s.n_stages), dtype=np.int64), np.zeros(n, dtype=np.int64))


def reduced_cost(cost: Cost, reduced: Reduced, everything: Population) -> Cost:
    """``cost`` on the reduced space; its exact minimum by enumeration."""
    fn = lambda pop: cost(reduced.lift(pop))  # noqa: E731

    def minimum() -> tuple[float, Population]:
        values = chunked(fn, everything)
        best = int(values.argmin())
        return float(values[best]), everything.take([best])

    return Cost(cost.name, cost.unit, fn, minimum)


def chunked(fn, pop: Population, size: int = 65536) -> np.ndarray:
    return np.concatenate([fn(pop.take(np.arange(i, min(i + size, len(pop))))) for i in range(0, len(pop), size)])


def front_hv(acc: np.ndarray, cost: np.ndarray, ref_cost: float) -> tuple[float, int]:
    keep = front_2d(np.stack([-acc, cost], axis=1))
    return hypervolume_2d(acc[keep], cost[keep], ref_cost), len(keep)


def compare_fronts(space, acc_fn, cost_fn: Cost, settings: EvolutionSettings, exhaustive: Population | None) -> dict:
    """NSGA-II vs random search at equal evaluations (and vs the exhaustive front where given)."""
    nsga = pareto_front(space, acc_fn, cost_fn, [Constraint(cost_fn, 1e30)], settings)
    rand = sample(space, nsga.evaluations, np.random.default_rng(settings.seed + 1), cost_fn.r_allowed)
    r_acc, r_cost = acc_fn(rand), cost_fn(rand)
    out = {"evaluations": nsga.evaluations, "nsga_seconds": round(nsga.seconds, 2)}
    if exhaustive is not None:
        t0 = time.perf_counter()
        e_acc, e_cost = chunked(acc_fn, exhaustive), chunked(cost_fn, exhaustive)
        out["exhaustive_seconds"] = round(time.perf_counter() - t0, 1)
        ref = float(e_cost.max())
        hv_all, n_all = front_hv(e_acc, e_cost, ref)
        out |= {"space_size": len(exhaustive), "exhaustive_front_points": n_all, "exhaustive_hv": hv_all}
    else:
        ref = float(max(nsga.cost.max(), r_cost.max()))
    hv_nsga, n_nsga = front_hv(nsga.accuracy, nsga.cost, ref)
    hv_rand, n_rand = front_hv(r_acc, r_cost, ref)
    out |= {"ref_cost_ms": ref, "nsga_hv": hv_nsga, "nsga_front_points": n_nsga, "random_hv": hv_rand,
            "random_front_points": n_rand, "random_over_nsga": hv_rand / hv_nsga}
    if exhaustive is not None:
        out |= {"nsga_over_exhaustive": hv_nsga / hv_all, "random_over_exhaustive": hv_rand / hv_all}
    return out | {"_front": nsga}


def budget_gaps(space, acc_fn, cost, exhaustive: Population, settings: EvolutionSettings) -> list[dict]:
    """Evolution's best under three budgets vs the true (enumerated) best under each."""
    e_acc, e_cost = chunked(acc_fn, exhaustive), chunked(cost, exhaustive)
    rows = []
    for q in (0.25, 0.5, 0.75):
        budget = float(np.quantile(e_cost, q))
        best = float(e_acc[e_cost <= budget].max())
        result = evolve(space, acc_fn, [Constraint(cost, budget)], settings)
        found = float(acc_fn(result.best)[0])
        rows.append({"budget_ms": round(budget, 4), "exhaustive_best": best, "evolution_best": found,
                     "gap_pct_points": round((best - found) * 100, 3), "evaluations": result.evaluations,
                     "seconds": round(result.seconds, 2)})
    return rows


def real_accuracy(space, supernet, source, front, n: int, calib_images: int, seed: int) -> list[dict]:
    """Evaluate ``n`` front points spread over the latency range; compare with the prediction."""
    picks = np.unique(np.linspace(0, len(front.cost) - 1, n).round().astype(int))
    evaluator = SubnetEvaluator(supernet, source, calib_images, seed=seed)
    rows = []
    for i, cfg in zip(picks, front.front.take(picks).configs(space)):
        measured = evaluator.evaluate(cfg)["top1"]
        rows.append({"arch": cfg.arch_string(space), "latency_ms": round(float(front.cost[i]), 4),
                     "predicted_top1": round(float(front.accuracy[i]), 4), "measured_top1": measured,
                     "error_pct_points": round((float(front.accuracy[i]) - measured) * 100, 2)})
    return rows


def find_inputs(args) -> tuple[Path, Path]:
    work = args.zoo / "_work"
    supernet = args.supernet or next((p for p in (work / "train" / "supernet", work / "supernet") if p.is_dir()), None)
    lut = args.lut or next(iter(sorted((work / "luts").glob("*"))), None)
    if supernet is None or lut is None:
        sys.exit(f"no supernet / LUT under {work}: run `make demo` first, or give --supernet and --lut")
    return Path(supernet), Path(lut)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=Path, default=Path("runs/demo"), help="a zoo whose _work/ holds the supernet and LUTs")
    parser.add_argument("--supernet", type=Path)
    parser.add_argument("--lut", type=Path, help="latency table directory (default: the zoo's first)")
    parser.add_argument("--data", default=None, help="dataset (default: the supernet's training data, builtin)")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--calib-images", type=int, default=300)
    parser.add_argument("--generations", type=int, default=100, help="NSGA-II generations (population 100)")
    parser.add_argument("--real", type=int, default=6, help="front points evaluated for real")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=RESULTS / "tmp" / "search_quality")
    parser.add_argument("--out", type=Path, default=RESULTS / "search_quality.json")
    args = parser.parse_args()

    supernet_dir, lut_dir = find_inputs(args)
    supernet = load_supernet(supernet_dir)
    space = supernet.space
    source = open_dataset(args.data or "builtin")
    report: dict = {"bench": "search_quality", "command": "python " + " ".join(sys.argv), "supernet": str(supernet_dir),
                    "lut": str(lut_dir), "data": source.name}

    t0 = time.perf_counter()
    table = build_accuracy_table(supernet, source, args.work / "acc", args.samples, sha256_file(supernet_dir / "weights.safetensors"),
                                 args.seed, args.calib_images)
    report["accuracy_table"] = {"rows": len(table), "eval_seconds_mean": round(float(table["eval_s"].mean()), 3),
                                "subnets_per_minute": round(60 / float(table["eval_s"].mean()), 1),
                                "top1_range": [float(table["top1"].min()), float(table["top1"].max())],
                                "wall_seconds_this_run": round(time.perf_counter() - t0, 1)}
    predictor = fit_and_evaluate(space, table, seed=args.seed, curve=(100, 200, 300))
    report["predictor"] = predictor.report
    print(json.dumps({"predictor": predictor.report}), file=sys.stderr, flush=True)

    device, cost = load_latency_cost(str(lut_dir), space)
    settings = EvolutionSettings(population=100, generations=args.generations, seed=args.seed)
    full = compare_fronts(space, predictor, cost, settings, None)
    front = full.pop("_front")
    report["device"] = device
    report["full_space"] = full

    reduced = Reduced(space)
    everything = reduced.enumerate()
    acc_r = lambda pop: predictor(reduced.lift(pop))  # noqa: E731
    cost_r = reduced_cost(cost, reduced, everything)
    small = compare_fronts(reduced.space, acc_r, cost_r, settings, everything)
    small.pop("_front")
    report["reduced_space"] = small
    report["reduced_space_budgets"] = budget_gaps(reduced.space, acc_r, cost_r, everything, settings)
    report["real_accuracy"] = real_accuracy(space, supernet, source, front, args.real, args.calib_images, args.seed)
    errors = np.array([abs(r["error_pct_points"]) for r in report["real_accuracy"]])
    report["real_accuracy_mean_abs_error_pct_points"] = round(float(errors.mean()), 2)
    report["time"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
