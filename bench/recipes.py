"""Training recipes vs scratch on the built-in digits: are inherited sub-networks as good as trained ones?

For each recipe (a training preset: ``demo`` = full-network warm start + sandwich rule on the labels,
``demo-inplace-kd`` = the same plus BigNAS in-place distillation from the step's largest sub-network,
``demo-ps`` = OFA's progressive shrinking at the same scale):

1. Train the supernet (the run directory is kept, so an interrupted bench resumes; ``--reuse
   RECIPE=RUN_DIR`` takes a finished run, e.g. the demo zoo's ``runs/demo/_work/train``).
2. Evaluate ``--n-subnets`` fixed sub-networks spread over the FLOPs range (largest, smallest, and
   random ones at evenly spaced FLOPs ranks) with *inherited* weights: BN-recalibrated, not fine-tuned.
3. Train the same architectures from scratch as static networks -- one setting for every recipe: the
   ``demo`` preset's optimiser, first-stage lr, batch, augmentation and loss (no KD) -- for (a) as many
   steps as the recipe's supernet run took and (b) ``--scratch-epochs`` epochs, a budget at which they
   converge on the digits; BN-recalibrated and evaluated identically.
4. The linear baseline: scikit-learn's logistic regression (and an RBF SVM) on the same split, on the
   8x8 pixels.

Prints JSON and writes bench/results/recipes_digits.json (with the command that produced it).

    .venv/bin/python bench/recipes.py                                           # ~60 min on 2 cores
    .venv/bin/python bench/recipes.py --reuse demo=runs/demo/_work/train        # reuse the demo's supernet
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ofa.bn_calib import recalibrate_bn
from ofa.complexity import subnet_cost
from ofa.data import open_dataset, resize_batch
from ofa.nn.static import StaticSubnet
from ofa.search.accuracy_table import SubnetEvaluator
from ofa.subnet import SubnetConfig
from ofa.train import load_config, resume, train
from ofa.train.config import read_yaml, resolve
from ofa.train.distill import training_loss
from ofa.train.prepare import CONFIG_YAML, build_optimizer, place
from ofa.train.sampling import batch_stream, steps_per_epoch
from ofa.train.schedule import lr_at
from ofa.train.validate import top1

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

RESULTS = ROOT / "results"


def supernet_run(recipe: str, run_dir: Path, threads: int):
    """(supernet, resolved config, seconds, steps) of the recipe's run, training or resuming it if needed."""
    from ofa.artifacts import load_supernet

    t0 = time.perf_counter()
    if (run_dir / "supernet" / "manifest.json").is_file():
        config = resolve(read_yaml(run_dir / CONFIG_YAML))
        seconds = None
    else:
        if (run_dir / "checkpoint.pt").is_file():
            resume(run_dir)
        else:
            train(load_config(recipe, overrides=[f"threads={threads}", "tensorboard=false"]), run_dir)
        config, seconds = resolve(read_yaml(run_dir / CONFIG_YAML)), time.perf_counter() - t0
    source = open_dataset(config.data)
    per_epoch = steps_per_epoch(source, config.batch_size)
    steps = sum(max(1, round(s.epochs * config.epochs_scale * per_epoch)) for s in config.schedule)
    return load_supernet(run_dir / "supernet"), config, seconds, steps


def spread_subnets(space, n: int, seed: int) -> dict[str, SubnetConfig]:
    """Largest, smallest, and ``n - 2`` random sub-networks at evenly spaced FLOPs ranks of a random pool."""
    rng = random.Random(seed)
    pool = [SubnetConfig.sample(space, rng) for _ in range(200)]
    pool.sort(key=lambda c: subnet_cost(space, c, 10).mflops)
    picks = np.linspace(0, len(pool) - 1, max(0, n - 2)).round().astype(int)
    out = {"largest": SubnetConfig.largest(space), "smallest": SubnetConfig.smallest(space)}
    out |= {f"random{i}": pool[j] for i, j in enumerate(picks)}
    return out


def scratch(config, sub: SubnetConfig, source, steps: int, seed: int) -> tuple[float, float]:
    """Train ``sub`` alone for ``steps`` (first stage's lr, cosine, same batch and loss); (top1, seconds)."""
    from ofa.spaces import get_space

    space, first = get_space(config.space), config.schedule[0]
    torch.manual_seed(seed)
    net = place(StaticSubnet(space, sub, config.num_classes, config.dropout), config, torch.device("cpu")).train()
    optimizer = build_optimizer(net, config, first.lr)
    stream = batch_stream(source, config.batch_size, seed, 0, 0, augment=config.augment)
    warmup = max(1, steps // 40)
    t0 = time.perf_counter()
    for step in range(steps):
        images, labels = next(stream)
        images = resize_batch(images, sub.r).contiguous(memory_format=torch.channels_last)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, warmup, first.lr, config.optim.min_lr)
        optimizer.zero_grad(set_to_none=True)
        loss, _ = training_loss(net(images), labels, None, 0.0, config.loss.ce_weight, config.loss.label_smoothing)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - t0
    val = config.validation
    recalibrate_bn(net, source.calibration_batches(500, val.calib_batch_size, sub.r, val.seed))
    return top1(net, source, sub.r, val, torch.device("cpu")), seconds


def linear_baselines() -> dict:
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    from ofa.data.builtin import _stratified_split

    digits = load_digits()
    x, y = digits.data / 16.0, digits.target
    tr, va = _stratified_split(y)
    logreg = LogisticRegression(max_iter=5000).fit(x[tr], y[tr]).score(x[va], y[va])
    svm = SVC(kernel="rbf", gamma="scale").fit(x[tr], y[tr]).score(x[va], y[va])
    return {"logistic_regression": round(float(logreg), 4), "rbf_svm": round(float(svm), 4), "val_images": len(va)}


_SCRATCH: dict = {}


def scratch_cached(sub: SubnetConfig, source, steps: int, seed: int) -> tuple[float, float]:
    """Scratch training with the demo preset's settings, once per (architecture, steps)."""
    key = (sub.to_json(), steps)
    if key not in _SCRATCH:
        _SCRATCH[key] = scratch(load_config("demo", overrides=[f"num_classes={source.num_classes}"]), sub, source, steps, seed)
    return _SCRATCH[key]


def bench_recipe(recipe: str, run_dir: Path, args) -> dict:
    supernet, config, seconds, steps = supernet_run(recipe, run_dir, args.threads)
    source = open_dataset(config.data)
    evaluator = SubnetEvaluator(supernet, source, 500)
    per_epoch = steps_per_epoch(source, load_config("demo").batch_size)
    rows = []
    for name, sub in spread_subnets(supernet.space, args.n_subnets, args.seed).items():
        inherited = evaluator.evaluate(sub)["top1"]
        equal, equal_s = scratch_cached(sub, source, steps, args.seed)
        long, long_s = scratch_cached(sub, source, args.scratch_epochs * per_epoch, args.seed)
        rows.append({"subnet": name, "arch": sub.arch_string(supernet.space), "r": sub.r,
                     "mflops": round(subnet_cost(supernet.space, sub, 10).mflops, 2), "inherited_top1": inherited,
                     "scratch_equal_steps_top1": equal, "scratch_converged_top1": long,
                     "delta_vs_equal": round(inherited - equal, 4), "delta_vs_converged": round(inherited - long, 4),
                     "scratch_seconds": round(equal_s + long_s, 1)})
        print(json.dumps({"recipe": recipe} | rows[-1]), file=sys.stderr, flush=True)
    inherited = [r["inherited_top1"] for r in rows]
    return {"recipe": recipe, "run_dir": str(run_dir), "supernet_steps": steps, "scratch_equal_steps": steps,
            "scratch_converged_steps": args.scratch_epochs * per_epoch, "train_seconds": seconds and round(seconds, 1),
            "inherited_min": min(inherited), "inherited_mean": round(float(np.mean(inherited)), 4),
            "wins_vs_equal_steps": sum(r["delta_vs_equal"] >= 0 for r in rows),
            "wins_vs_converged": sum(r["delta_vs_converged"] >= 0 for r in rows), "n": len(rows), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipes", default="demo,demo-inplace-kd,demo-ps", help="comma-separated training presets")
    parser.add_argument("--reuse", action="append", default=[], help="RECIPE=RUN_DIR: a finished run of that recipe")
    parser.add_argument("--n-subnets", type=int, default=6)
    parser.add_argument("--scratch-epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=RESULTS / "tmp" / "recipes")
    parser.add_argument("--result", type=Path, default=RESULTS / "recipes_digits.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    reuse = dict(item.split("=", 1) for item in args.reuse)
    t0 = time.perf_counter()
    report = {"bench": "recipes", "command": "python " + " ".join(sys.argv), "data": "builtin",
              "linear": linear_baselines(), "recipes": []}
    for recipe in args.recipes.split(","):
        run_dir = Path(reuse.get(recipe, args.work / recipe))
        report["recipes"].append(bench_recipe(recipe, run_dir, args))
    report |= {"total_seconds": round(time.perf_counter() - t0, 1), "machine": machine.describe(),
               "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
