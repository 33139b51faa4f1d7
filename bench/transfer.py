"""Transfer to new classes against training from scratch, at equal steps.

1. Source: a supernet of the 32x32 space trained (demo recipe, ``--source-scale`` x its epochs) on six
   CIFAR-10 classes (airplane ... dog), ``--source-per-class`` training images each.
2. Target: the other four classes (frog, horse, ship, truck), a small-data task: ``--target-per-class``
   training images each, ``--val-per-class`` of CIFAR-10's test images each for top-1. The head differs
   (6 -> 4 classes), so ``ofa train --init`` puts a new one on (N(0, 0.01), zero bias).
3. Transfer: the ``transfer`` preset from the source supernet (frozen head stage, then sandwich).
   Scratch: the same schedule, the same steps and batches, from random weights, nothing frozen, at the demo
   recipe's learning rate 0.1 (``--scratch-lr``).
4. Both supernets: the same sub-networks (largest, smallest, random ones spread over FLOPs), BN-recalibrated
   on target training images, top-1 on the target validation images.

Runs are kept under ``--work`` and reused, so a rerun only evaluates. Prints JSON and writes
bench/results/transfer.json with the command that produced it.

    .venv/bin/python bench/transfer.py --source-scale 0.1 --source-per-class 1000 --threads 1 --seeds 0 1 2
                                                           # ~35 min on 2 loaded cores
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

from ofa.artifacts import load_supernet
from ofa.complexity import subnet_cost
from ofa.data import open_dataset
from ofa.data.archive import unpack
from ofa.data.cifar10 import default_tar
from ofa.search.accuracy_table import SubnetEvaluator
from ofa.spaces import get_space
from ofa.train import load_config, train

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402
from recipes import spread_subnets  # noqa: E402

RESULTS = ROOT / "results"
SPACE = "ofa_mbv3_in32_d234_e346_k357_w1.0"
SOURCE_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog")
TARGET_CLASSES = ("frog", "horse", "ship", "truck")


def subset(cifar: Path, out: Path, classes, per_class: int, val_per_class: int) -> Path:
    """An ImageFolder of symlinks: the first ``per_class`` training and ``val_per_class`` test images per class."""
    for split, source, n in (("train", "train", per_class), ("val", "test", val_per_class)):
        for name in classes:
            folder = out / split / name
            if folder.is_dir():
                continue
            tmp = folder.with_name(name + ".tmp")
            tmp.mkdir(parents=True, exist_ok=True)
            for path in sorted((cifar / source / name).iterdir())[:n]:
                link = tmp / path.name
                if not link.exists():
                    link.symlink_to(path.resolve())
            tmp.rename(folder)
    return out


def trained(run_dir: Path, config) -> tuple[Path, float | None]:
    """The run's supernet directory, training it unless it exists; (path, seconds or None when reused)."""
    supernet = run_dir / "supernet"
    if (supernet / "manifest.json").is_file():
        return supernet, None
    if run_dir.exists():  # an interrupted run: start it again (the runs are short)
        import shutil

        shutil.rmtree(run_dir)
    t0 = time.perf_counter()
    train(config, run_dir)
    return supernet, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source-per-class", type=int, default=2000)
    parser.add_argument("--source-scale", type=float, default=0.1, help="x the demo recipe's epochs on the source")
    parser.add_argument("--target-per-class", type=int, default=250)
    parser.add_argument("--val-per-class", type=int, default=500)
    parser.add_argument("--target-scale", type=float, default=1.0, help="x the transfer preset's epochs on the target")
    parser.add_argument("--scratch-lr", type=float, default=0.1)
    parser.add_argument("--n-subnets", type=int, default=6)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="target runs (transfer and scratch) per seed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=RESULTS / "tmp" / "transfer")
    parser.add_argument("--result", type=Path, default=RESULTS / "transfer.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    t0 = time.perf_counter()
    cifar = unpack(default_tar())
    src = subset(cifar, args.work / f"source{args.source_per_class}", SOURCE_CLASSES, args.source_per_class, 200)
    tgt = subset(cifar, args.work / f"target{args.target_per_class}", TARGET_CLASSES, args.target_per_class,
                 args.val_per_class)
    common = ["tensorboard=false", f"threads={args.threads}", "validation.n_random=0"]
    source_cfg = load_config("demo", options={"space": SPACE, "data": str(src)},
                             overrides=[*common, "seed=0", f"epochs_scale={args.source_scale}"])
    source, source_s = trained(args.work / f"source_run_{args.source_scale}", source_cfg)
    target = open_dataset(str(tgt))
    subnets = {k: v.with_resolution(32) for k, v in spread_subnets(get_space(SPACE), args.n_subnets, 0).items()}
    top1, seconds, runs = train_and_evaluate(
        args, subnets, target, lambda seed: target_runs(args, source, tgt, [*common, f"seed={seed}"]),
        f"{args.target_scale}_{args.scratch_lr}")
    space = get_space(SPACE)
    rows = delta_rows(subnets, top1, lambda sub: {"arch": sub.arch_string(space), "r": sub.r,
                                                  "mflops": round(subnet_cost(space, sub, 4).mflops, 2)})
    steps = {name: _steps(config, target) for name, config in runs.items()}
    report = {"bench": "transfer", "command": "python " + " ".join(sys.argv), "space": SPACE,
              "source": {"classes": SOURCE_CLASSES, "train_images": len(SOURCE_CLASSES) * args.source_per_class,
                         "recipe": "demo", "epochs_scale": args.source_scale, "seconds": _round(source_s)},
              "target": {"classes": TARGET_CLASSES, "train_images": len(target.split("train").labels),
                         "val_images": len(target.split("val").labels)},
              "steps": steps, "batch_size": runs["transfer"].batch_size, "scratch_lr": args.scratch_lr, "seeds": args.seeds,
              "train_seconds": {k: _round(v) for k, v in seconds.items()}, **report_tail(rows, t0)}
    write_report(args.result, report)


def target_runs(args, source: Path, tgt: Path, common: list[str]) -> dict:
    """The two target runs of one seed: transfer from ``source`` and the same schedule from random weights."""
    scale = f"epochs_scale={args.target_scale}"
    return {
        "transfer": load_config("transfer", options={"init": str(source), "data": str(tgt)}, overrides=[*common, scale]),
        "scratch": load_config("transfer", options={"space": SPACE, "data": str(tgt)},
                               overrides=[*common, scale, "schedule.head.freeze_stages=0",
                                          f"schedule.head.lr={args.scratch_lr}", f"schedule.elastic.lr={args.scratch_lr}"]),
    }


def train_and_evaluate(args, subnets: dict, target, runs_of_seed, tag: str) -> tuple[dict, dict, dict]:
    """Per seed: train (or reuse) the transfer and scratch runs ``runs_of_seed(seed)`` under ``args.work``, and
    measure every sub-network of both; (top-1 lists per sub-network and run, training seconds, the last runs)."""
    top1 = {name: {"transfer": [], "scratch": []} for name in subnets}
    seconds: dict = {}
    runs: dict = {}
    for seed in args.seeds:
        runs = runs_of_seed(seed)
        for name, config in runs.items():
            path, seconds[f"{name}_s{seed}"] = trained(args.work / f"{name}_{tag}_s{seed}", config)
            evaluator = SubnetEvaluator(load_supernet(path), target, 500)
            for sub_name, sub in subnets.items():
                top1[sub_name][name].append(evaluator.evaluate(sub)["top1"])
    return top1, seconds, runs


def delta_rows(subnets: dict, top1: dict, describe) -> list[dict]:
    """One row per sub-network: ``describe(sub)``'s fields, both runs' top-1 lists, means and transfer - scratch."""
    rows = []
    for sub_name, sub in subnets.items():
        t, s = top1[sub_name]["transfer"], top1[sub_name]["scratch"]
        deltas = [a - b for a, b in zip(t, s)]
        rows.append({"subnet": sub_name, **describe(sub), "transfer_top1": t, "scratch_top1": s,
                     "transfer_mean": round(statistics.mean(t), 4), "scratch_mean": round(statistics.mean(s), 4),
                     "delta_mean": round(statistics.mean(deltas), 4), "delta_min": round(min(deltas), 4)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def report_tail(rows: list[dict], t0: float) -> dict:
    """The statistic, rows, win counts and run facts every transfer report ends with."""
    return {"statistic": "top-1 on the target val images after BN recalibration on 500 target train images; one "
                         "transfer and one scratch run per seed (lists), mean over seeds; delta = transfer - scratch",
            "rows": rows, "transfer_wins_by_mean": sum(r["delta_mean"] > 0 for r in rows),
            "transfer_wins_every_seed": sum(r["delta_min"] > 0 for r in rows), "n": len(rows),
            "total_seconds": round(time.perf_counter() - t0, 1), "machine": machine.describe(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S")}


def write_report(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def _steps(config, source) -> dict:
    from ofa.train.sampling import steps_per_epoch
    from ofa.train.schedule import stage_steps

    per_epoch = steps_per_epoch(source, config.batch_size)
    return {s.name: stage_steps(s.epochs, config.epochs_scale, per_epoch) for s in config.schedule}


def _round(value):
    return None if value is None else round(value, 1)


if __name__ == "__main__":
    main()
