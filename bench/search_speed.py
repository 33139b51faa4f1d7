"""Search time, population 100 x 500 generations, this project vs the official OFA tutorial finder.

Both search the OFA-MobileNetV3 w1.2 space (the tutorial FLOPs table uses multiplier 1.2) at resolutions
160-224 (step 16, the tutorial's list) under a FLOPs budget, scored by *one* 3 x 400 MLP accuracy
predictor: random weights (seeded; timing and search quality only, no download) written once and loaded
by both sides, the official one in its 128-feature layout, ours in the same weights with the first
layer's rows reordered to our encoding. Each official best is re-scored by our predictor to check that
both sides score the same function. Runs alternate A/B (the order flips every repeat) on ``--threads``
threads; ours runs twice per repeat, as OFA (the default) and with ``distinct_parents``. Medians over the
repeats, of wall-clock seconds (the headline) and of process CPU seconds (less
sensitive to other jobs on a shared machine). Then each of our strategies (``ofa search --strategy``) runs once at
the same evaluation budget (bayesian at ``--bayesian-evaluations``: Optuna's TPE is far slower per trial).
Prints JSON and writes bench/results/search_speed.json.

    .venv/bin/python bench/search_speed.py [--repeats 5] [--flops 400] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from official_ofa import OFFICIAL_VERSION, run_official  # noqa: E402

RESOLUTIONS = (160, 176, 192, 208, 224)
OFFICIAL_SCRIPT = """
import json, random, time, numpy as np, torch
torch.set_num_threads(THREADS)
from ofa.tutorial.accuracy_predictor import AccuracyPredictor
from ofa.tutorial.flops_table import FLOPsTable
from ofa.tutorial.evolution_finder import EvolutionFinder
random.seed(SEED); np.random.seed(SEED); torch.manual_seed(SEED)
t0 = time.perf_counter()
table = FLOPsTable(device="cpu", batch_size=1)
build = time.perf_counter() - t0
predictor = AccuracyPredictor(pretrained=False, device="cpu")
weights = np.load("WEIGHTS")
linears = [m for m in predictor.model if isinstance(m, torch.nn.Linear)]
with torch.no_grad():
    for i, layer in enumerate(linears):
        layer.weight.copy_(torch.from_numpy(weights[f"w{i}"].T.copy()))
        layer.bias.copy_(torch.from_numpy(weights[f"b{i}"]))
finder = EvolutionFinder(efficiency_predictor=table, accuracy_predictor=predictor,
                         population_size=100, max_time_budget=500, parent_ratio=0.25, mutation_ratio=0.5, constraint_type="flops",
                         efficiency_constraint=FLOPS)
finder.mutate_prob = 0.1
t0, c0 = time.perf_counter(), time.process_time()
best_valids, best_info = finder.run_evolution_search(verbose=False)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
best = {k: list(best_info[1][k]) for k in ("ks", "e", "d", "r")}
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "table_build_s": build, "best_accuracy": float(best_info[0]),
                  "best_flops": float(best_info[2]), "best": best}))
"""


def shared_weights(seed: int = 2024) -> dict[str, np.ndarray]:
    """One 128-400-400-400-1 MLP in the official feature layout: ks one-hot (20 x 3), e one-hot (20 x 3), r (8)."""
    rng = np.random.default_rng(seed)
    sizes, out = [128, 400, 400, 400, 1], {}
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        out[f"w{i}"] = rng.normal(0, 1 / np.sqrt(a), (a, b)).astype(np.float32)
        out[f"b{i}"] = rng.normal(0, 0.05, b).astype(np.float32)
    return out


def our_problem(weights: dict[str, np.ndarray]):
    """(space, predictor, FLOPs cost): our predictor holds the same weights, layer 0 rows in our encoding."""
    from ofa import get_space
    from ofa.cost_table import flops_table
    from ofa.search.acc_predictor import AccuracyPredictor
    from ofa.search.constraints import additive_cost

    base = get_space("ofa_mbv3_d234_e346_k357_w1.2")
    space = base.model_copy(update={"id": base.id + "@r160-224s16", "resolutions": RESOLUTIONS})
    if tuple(space.ks_choices) != (3, 5, 7) or tuple(space.e_choices) != (3, 4, 6):
        raise SystemExit("the official predictor layout assumes k 3/5/7 and e 3/4/6")
    rows = []  # ours: per slot [k3 k5 k7 e3 e4 e6], then r; official: all ks, then all e, then r at (r - 112) // 16
    for slot in range(space.n_block_slots):
        rows += [3 * slot + k for k in range(3)] + [60 + 3 * slot + e for e in range(3)]
    rows += [120 + (r - 112) // 16 for r in RESOLUTIONS]
    layers = [weights["w0"][rows], weights["b0"]] + [weights[f"{p}{i}"] for i in (1, 2, 3) for p in ("w", "b")]
    predictor = AccuracyPredictor(space, [layers], 0.0, 1.0)
    return space, predictor, additive_cost("mflops", "MFLOPs", flops_table(space, 1000))


def official(weights_file: Path, flops_budget: float, seed: int, threads: int, problem) -> dict:
    from ofa.population import Population
    from ofa.subnet import SubnetConfig

    script = (OFFICIAL_SCRIPT.replace("SEED", str(seed)).replace("FLOPS", str(flops_budget))
              .replace("THREADS", str(threads)).replace("WEIGHTS", str(weights_file)))
    run = run_official(script, threads=threads)
    space, predictor, flops = problem
    best = run.pop("best")
    cfg = SubnetConfig(space.id, tuple(best["ks"]), tuple(best["e"]), tuple(best["d"]), int(best["r"][0]))
    pop = Population.from_configs(space, [cfg])
    run["best_accuracy_rescored_by_ours"] = float(predictor(pop)[0])
    run["best_flops_ours_table"] = float(flops(pop)[0])
    return run


def ours(flops_budget: float, seed: int, problem, distinct_parents: bool = False) -> dict:
    from ofa.search.constraints import Constraint
    from ofa.search.evolution import EvolutionSettings, evolve

    space, predictor, flops = problem
    cpu = time.process_time()
    result = evolve(space, predictor, [Constraint(flops, flops_budget)],
                    EvolutionSettings(seed=seed, distinct_parents=distinct_parents))
    return {"seconds": result.seconds, "cpu_seconds": time.process_time() - cpu, "best_accuracy": result.fitness,
            "best_flops": float(flops(result.best)[0]), "evaluations": result.evaluations}


def strategies(flops_budget: float, problem, evaluations: int, bayesian_evaluations: int) -> dict:
    """Each strategy once (seed 0) at the evolution's evaluation budget (bayesian: its own, smaller)."""
    from ofa.search.constraints import Constraint
    from ofa.search.evolution import EvolutionSettings
    from ofa.search.strategies import STRATEGIES, run_strategy

    space, predictor, flops = problem
    out = {}
    for name in STRATEGIES:
        budget = bayesian_evaluations if name == "bayesian" else evaluations
        t0, c0 = time.perf_counter(), time.process_time()
        result = run_strategy(name, space, predictor, [Constraint(flops, flops_budget)], EvolutionSettings(seed=0), budget)
        seconds = time.perf_counter() - t0
        out[name] = {"evaluations_budget": budget, "evaluations": result.evaluations, "seconds": seconds,
                     "cpu_seconds": time.process_time() - c0,
                     "us_per_evaluation": 1e6 * seconds / max(result.evaluations, 1), "best_accuracy": result.fitness}
        print(name, json.dumps(out[name]), file=sys.stderr, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--flops", type=float, default=400.0)
    parser.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads of the official run")
    parser.add_argument("--bayesian-evaluations", type=int, default=500)
    parser.add_argument("--skip-strategies", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    weights = shared_weights()
    runs: dict[str, list] = {"official": [], "ours": [], "ours_distinct_parents": []}
    with tempfile.TemporaryDirectory() as tmp:
        weights_file = Path(tmp) / "predictor.npz"
        np.savez(weights_file, **weights)
        problem = our_problem(weights)
        for i in range(args.repeats):
            order = ("official", "ours", "ours_distinct_parents") if i % 2 == 0 else ("ours", "official",
                                                                                   "ours_distinct_parents")
            for side in order:
                run = (official(weights_file, args.flops, i, args.threads, problem) if side == "official"
                       else ours(args.flops, i, problem, side == "ours_distinct_parents"))
                runs[side].append(run | {"load_average_1min": machine.describe()["load_average_1min"]})
                print(side, i, json.dumps(runs[side][-1]), file=sys.stderr, flush=True)
        per_strategy = {} if args.skip_strategies else strategies(args.flops, problem, 100 * 501, args.bayesian_evaluations)
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu_seconds"] for r in v) for k, v in runs.items()}
    acc = {k: statistics.median(r["best_accuracy"] for r in v) for k, v in runs.items()}
    same = max(abs(r["best_accuracy"] - r["best_accuracy_rescored_by_ours"]) for r in runs["official"])
    ratio = {k: med["official"] / med[k] for k in med if k != "official"}
    ratio_cpu = {k: cpu["official"] / cpu[k] for k in cpu if k != "official"}
    result = {
        "bench": "search_speed", "command": "python bench/search_speed.py " + " ".join(sys.argv[1:]),
        "settings": {"population": 100, "generations": 500, "parent_ratio": 0.25, "mutation_ratio": 0.5,
                     "mutation_prob": 0.1, "flops_budget_m": args.flops, "official_threads": args.threads,
                     "ours_blas_threads": 1, "repeats": args.repeats, "order": "A/B alternating, first side flips"},
        "reference": f"ofa=={OFFICIAL_VERSION} ofa.tutorial.EvolutionFinder + FLOPsTable + AccuracyPredictor (3x400 MLP)",
        "predictor": "one seeded random 3x400 MLP shared by both sides (official layout; ours reordered)",
        "machine": machine.describe(),
        "median_seconds": med, "speedup": ratio, "median_cpu_seconds": cpu, "speedup_cpu": ratio_cpu,
        "speedup_per_repeat": [f["seconds"] / o["seconds"] for f, o in zip(runs["official"], runs["ours"])],
        "median_best_accuracy": acc, "max_abs_official_vs_ours_rescore": same,
        "best_at_least_official_runs": {k: sum(o["best_accuracy"] >= f["best_accuracy"] - 1e-6
                                               for o, f in zip(runs[k], runs["official"])) for k in ratio},
        "strategies_seed0": per_strategy, "runs": runs,
    }
    out = Path(__file__).resolve().parent / "results" / "search_speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
