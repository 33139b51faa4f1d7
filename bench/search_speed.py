"""Search time, population 100 x 500 generations, this project vs the official OFA tutorial finder.

Both search the OFA-MobileNetV3 w1.2 space (the tutorial FLOPs table uses multiplier 1.2) at resolutions
160-224 (step 16, the tutorial's list)
under a FLOPs budget with a 3 x 400 MLP accuracy predictor (random weights on both sides: timing
only, no download), on 2 threads, alternating A/B in one run. Prints JSON and writes
bench/results/search_speed.json.

    .venv/bin/python bench/search_speed.py [--repeats 3] [--flops 400]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402
from official_ofa import OFFICIAL_VERSION, run_official  # noqa: E402

OFFICIAL_SCRIPT = """
import json, random, time, numpy as np, torch
torch.set_num_threads(2)
from ofa.tutorial.accuracy_predictor import AccuracyPredictor
from ofa.tutorial.flops_table import FLOPsTable
from ofa.tutorial.evolution_finder import EvolutionFinder
random.seed(SEED); np.random.seed(SEED); torch.manual_seed(SEED)
t0 = time.perf_counter()
table = FLOPsTable(device="cpu", batch_size=1)
build = time.perf_counter() - t0
finder = EvolutionFinder(efficiency_predictor=table, accuracy_predictor=AccuracyPredictor(pretrained=False, device="cpu"),
                         population_size=100, max_time_budget=500, parent_ratio=0.25, mutation_ratio=0.5, constraint_type="flops",
                         efficiency_constraint=FLOPS)
finder.mutate_prob = 0.1
t0 = time.perf_counter()
best_valids, best_info = finder.run_evolution_search(verbose=False)
print(json.dumps({"seconds": time.perf_counter() - t0, "table_build_s": build, "best_flops": float(best_info[2])}))
"""


def ours(flops_budget: float, seed: int) -> dict:
    from ofa import get_space
    from ofa.cost_table import flops_table
    from ofa.search.acc_predictor import AccuracyPredictor
    from ofa.search.constraints import Constraint, additive_cost
    from ofa.search.encoding import feature_size
    from ofa.search.evolution import EvolutionSettings, evolve

    base = get_space("ofa_mbv3_d234_e346_k357_w1.2")
    space = base.model_copy(update={"id": base.id + "@r160-224s16", "resolutions": (160, 176, 192, 208, 224)})
    t0 = time.perf_counter()
    flops = additive_cost("mflops", "MFLOPs", flops_table(space, 1000))
    build = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    sizes = [feature_size(space), 400, 400, 400, 1]
    weights = []
    for a, b in zip(sizes, sizes[1:]):
        weights += [rng.normal(0, 1 / np.sqrt(a), (a, b)).astype(np.float32), np.zeros(b, np.float32)]
    predictor = AccuracyPredictor(space, [weights], 0.75, 0.05)
    result = evolve(space, predictor, [Constraint(flops, flops_budget)], EvolutionSettings(seed=seed))
    return {"seconds": result.seconds, "table_build_s": build, "best_flops": float(flops(result.best)[0]),
            "evaluations": result.evaluations}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--flops", type=float, default=400.0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    runs = {"official": [], "ours": []}
    for i in range(args.repeats):
        script = OFFICIAL_SCRIPT.replace("SEED", str(i)).replace("FLOPS", str(args.flops))
        runs["official"].append(run_official(script))
        runs["ours"].append(ours(args.flops, i))
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    result = {
        "bench": "search_speed", "command": "python bench/search_speed.py " + " ".join(sys.argv[1:]),
        "settings": {"population": 100, "generations": 500, "parent_ratio": 0.25, "mutation_ratio": 0.5,
                     "mutation_prob": 0.1, "flops_budget_m": args.flops, "threads": 2, "repeats": args.repeats},
        "reference": f"ofa=={OFFICIAL_VERSION} ofa.tutorial.EvolutionFinder + FLOPsTable + AccuracyPredictor (3x400 MLP)",
        "machine": machine.describe(),
        "runs": runs, "median_seconds": med, "speedup": med["official"] / med["ours"],
    }
    out = Path(__file__).resolve().parent / "results" / "search_speed.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
