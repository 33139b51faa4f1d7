"""OFA-ResNet transfer to new classes against training from random weights, at equal steps.

The OFA-ResNet counterpart of ``bench/transfer.py`` on a narrow ResNet space (the test fixture's widths,
``--widths``, at resolutions 32/48/64, so it runs on a CPU):

1. Source: the space's supernet from random weights (OFA's initialisation, saved as an init artifact) trained on
   six CIFAR-10 classes with the ``transfer-resnet`` schedule, nothing frozen, ``--source-scale`` x its epochs.
2. Target: the other four classes, ``--target-per-class`` training images each (6 -> 4 classes: a new head).
3. Transfer: ``ofa train --init SOURCE`` (the ``transfer-resnet`` preset: frozen head stage, then the sandwich).
   Scratch: the same schedule, steps and batches from random weights, nothing frozen, at ``--scratch-lr``.
4. Both: the same sub-networks (largest, smallest, fixed random ones), BN-recalibrated on 500 target training
   images, top-1 on ``--val-per-class`` CIFAR-10 test images per target class.

Prints JSON and writes bench/results/resnet_transfer.json with the command that produced it.

    taskset -c 0 .venv/bin/python bench/resnet_transfer.py --threads 1 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import torch

from ofa.artifacts import ModelInfo
from ofa.data import open_dataset
from ofa.data.archive import unpack
from ofa.data.cifar10 import default_tar
from ofa.nn.resnet import OFAResNet, resnet_cost
from ofa.resnet_artifacts import resnet_space, save_resnet_supernet
from ofa.spaces.resnet import ResNetConfig
from ofa.train import load_config

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from transfer import (  # noqa: E402
    SOURCE_CLASSES,
    TARGET_CLASSES,
    _round,
    _steps,
    delta_rows,
    report_tail,
    subset,
    train_and_evaluate,
    trained,
    write_report,
)

RESULTS = ROOT / "results"


def random_init(space, classes: int, out: Path, seed: int) -> Path:
    """A supernet of ``space`` holding random weights (OFA's initialisation): the 'from scratch' start."""
    if (out / "manifest.json").is_file():
        return out
    torch.manual_seed(seed)
    return save_resnet_supernet(OFAResNet(space, classes), out, ModelInfo(num_classes=classes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=float, nargs=3, default=[0.06, 0.09, 0.12])
    parser.add_argument("--source-per-class", type=int, default=1000)
    parser.add_argument("--source-scale", type=float, default=2.0, help="x the transfer-resnet epochs on the source")
    parser.add_argument("--source-lr", type=float, default=0.1)
    parser.add_argument("--target-per-class", type=int, default=250)
    parser.add_argument("--val-per-class", type=int, default=500)
    parser.add_argument("--scratch-lr", type=float, default=0.1)
    parser.add_argument("--n-random", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=RESULTS / "tmp" / "resnet_transfer")
    parser.add_argument("--result", type=Path, default=RESULTS / "resnet_transfer.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    t0 = time.perf_counter()
    space = resnet_space({"id": f"ofa_resnet50_w{args.widths[0]}-{args.widths[2]}", "w_choices": args.widths,
                          "resolutions": [32, 48, 64]})
    cifar = unpack(default_tar())
    src = subset(cifar, args.work / f"source{args.source_per_class}", SOURCE_CLASSES, args.source_per_class, 200)
    tgt = subset(cifar, args.work / f"target{args.target_per_class}", TARGET_CLASSES, args.target_per_class,
                 args.val_per_class)
    common = ["tensorboard=false", f"threads={args.threads}", "validation.n_random=0", "checkpoint_every=0"]
    lr = [f"schedule.head.lr={args.source_lr}", f"schedule.elastic.lr={args.source_lr}", "schedule.head.freeze_stages=0"]
    source_cfg = load_config("transfer-resnet", options={"init": str(random_init(space, 6, args.work / "init6", 0)),
                                                         "data": str(src)},
                             overrides=[*common, *lr, "seed=0", f"epochs_scale={args.source_scale}"])
    source, source_s = trained(args.work / f"source_run_{space.id}_{args.source_scale}", source_cfg)
    target = open_dataset(str(tgt))
    subnets = {"largest": ResNetConfig.largest(space), "smallest": ResNetConfig.smallest(space)}
    subnets |= {f"random{i}": ResNetConfig.sample(space, seed=100 + i) for i in range(args.n_random)}
    top1, seconds, runs = train_and_evaluate(
        args, subnets, target, lambda seed: target_runs(args, space, source, tgt, [*common, f"seed={seed}"], seed),
        f"{space.id}_{args.scratch_lr}")
    rows = delta_rows(subnets, top1, lambda sub: {"arch": sub.arch_string(space), "r": sub.r,
                                                  "mflops": round(resnet_cost(space, sub, 4).mflops, 2)})
    report = {"bench": "resnet_transfer", "command": "python " + " ".join(sys.argv), "space": space.model_dump(),
              "source": {"classes": SOURCE_CLASSES, "train_images": len(SOURCE_CLASSES) * args.source_per_class,
                         "recipe": "transfer-resnet from random weights, nothing frozen", "lr": args.source_lr,
                         "epochs_scale": args.source_scale, "steps": _steps(source_cfg, open_dataset(str(src))),
                         "seconds": _round(source_s)},
              "target": {"classes": TARGET_CLASSES, "train_images": len(target.split("train").labels),
                         "val_images": len(target.split("val").labels)},
              "steps": _steps(runs["transfer"], target), "batch_size": runs["transfer"].batch_size,
              "scratch_lr": args.scratch_lr, "seeds": args.seeds, "train_seconds": {k: _round(v) for k, v in seconds.items()},
              **report_tail(rows, t0)}
    write_report(args.result, report)


def target_runs(args, space, source: Path, tgt: Path, common: list[str], seed: int) -> dict:
    """Transfer from ``source`` and the same schedule from random weights (a 4-class random init)."""
    scratch_init = random_init(space, 4, args.work / f"init4_s{seed}", 1000 + seed)
    return {
        "transfer": load_config("transfer-resnet", options={"init": str(source), "data": str(tgt)}, overrides=common),
        "scratch": load_config("transfer-resnet", options={"init": str(scratch_init), "data": str(tgt)},
                               overrides=[*common, "schedule.head.freeze_stages=0", f"schedule.head.lr={args.scratch_lr}",
                                          f"schedule.elastic.lr={args.scratch_lr}"]),
    }


if __name__ == "__main__":
    main()
