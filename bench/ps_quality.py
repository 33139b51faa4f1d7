"""Progressive shrinking vs training from scratch: do inherited sub-networks match scratch training?

1. A progressive-shrinking run (``ofa.train``, default schedule scaled by ``--epochs-scale``) on CIFAR-10
   with the 32x32 space. The run directory is kept, so an interrupted bench resumes where it stopped.
2. The run's reference sub-networks (largest, smallest, ``--n-random`` fixed random ones) with inherited
   weights + BN recalibration: the final stage's validation rows.
3. The same architectures trained from scratch as static networks, each with the per-network budget of
   the full network in step 1 (the ``full`` stage's steps, lr schedule, batch, loss without KD), then
   BN-recalibrated and evaluated identically.

The default budget (0.005) is sized for a 2-core CPU in about 80 minutes; 0.004 took 62 minutes. Prints JSON and writes
bench/results/train_ps_quality.json (with the command that produced it).

    .venv/bin/python bench/ps_quality.py                                   # the full bench (~80 min)
    .venv/bin/python bench/ps_quality.py --epochs-scale 0.0002 --max-val-images 500 \\
        --run-dir bench/results/tmp/ps_quick --result bench/results/tmp/ps_quick.json   # a quick check
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from ofa.bn_calib import recalibrate_bn
from ofa.data import open_dataset, resize_batch
from ofa.nn.static import StaticSubnet
from ofa.subnet import SubnetConfig
from ofa.train import load_config, resume, train
from ofa.train.config import read_yaml, resolve
from ofa.train.distill import training_loss
from ofa.train.prepare import CONFIG_YAML, build_optimizer, place
from ofa.train.sampling import batch_stream, steps_per_epoch
from ofa.train.schedule import lr_at, stage_steps, warmup_steps
from ofa.train.validate import top1

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

RESULTS = ROOT / "results"


def ps_run(args) -> "object":
    run_dir = args.run_dir
    if (run_dir / "checkpoint.pt").is_file():
        return resume(run_dir)
    config = load_config(options={"space": args.space, "data": args.data}, overrides=[
        f"epochs_scale={args.epochs_scale}", f"batch_size={args.batch}", f"threads={args.threads}", "tensorboard=false",
        f"validation.n_random={args.n_random}", f"validation.calib_images={args.calib_images}",
        f"validation.max_images={args.max_val_images or 'null'}", f"workers={args.workers}"])
    return train(config, run_dir)


def train_from_scratch(config, sub: SubnetConfig, source, seed: int) -> tuple[float, int, float]:
    """Train ``sub`` as a static network with the full stage's budget; returns (top1, steps, seconds)."""
    from ofa.spaces import get_space

    space, full = get_space(config.space), config.schedule[0]
    per_epoch = steps_per_epoch(source, config.batch_size)
    steps = stage_steps(full.epochs, config.epochs_scale, per_epoch)
    warmup = warmup_steps(full.warmup_epochs, config.epochs_scale, per_epoch, steps)
    torch.manual_seed(seed)
    net = place(StaticSubnet(space, sub, config.num_classes, config.dropout), config, torch.device("cpu")).train()
    optimizer = build_optimizer(net, config, full.lr)
    stream = batch_stream(source, config.batch_size, seed, 0, 0, workers=config.workers)
    t0 = time.perf_counter()
    for step in range(steps):
        images, labels = next(stream)
        layout = torch.channels_last if config.channels_last else torch.contiguous_format
        images = resize_batch(images, sub.r).contiguous(memory_format=layout)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, steps, warmup, full.lr, config.optim.min_lr)
        optimizer.zero_grad(set_to_none=True)
        loss, _ = training_loss(net(images), labels, None, 0.0, config.loss.ce_weight, config.loss.label_smoothing)
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - t0
    val = config.validation
    recalibrate_bn(net, source.calibration_batches(val.calib_images, val.calib_batch_size, sub.r, val.seed))
    return top1(net, source, sub.r, val, torch.device("cpu")), steps, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--space", default="ofa_mbv3_in32_d234_e346_k357_w1.0")
    parser.add_argument("--epochs-scale", type=float, default=0.005, help="x OFA's epochs (0.005: full network ~0.9 epoch)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--n-random", type=int, default=2)
    parser.add_argument("--calib-images", type=int, default=2000)
    parser.add_argument("--max-val-images", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1, help="seed of the scratch runs")
    parser.add_argument("--run-dir", type=Path, default=RESULTS / "tmp" / "ps_quality_run")
    parser.add_argument("--result", type=Path, default=RESULTS / "train_ps_quality.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")  # training progress

    t0 = time.perf_counter()
    result = ps_run(args)
    ps_seconds = time.perf_counter() - t0
    config = resolve(read_yaml(args.run_dir / CONFIG_YAML))  # the run's resolved config (also when resumed)
    source = open_dataset(config.data)
    last = result.validation[-1]["stage"]
    rows = []
    for row in (r for r in result.validation if r["stage"] == last):
        sub = SubnetConfig.from_dict(row["config"])
        scratch, steps, seconds = train_from_scratch(config, sub, source, args.seed)
        rows.append({"subnet": row["subnet"], "arch": row["arch"], "r": row["r"], "mflops": row["mflops"],
                     "inherited_top1": row["top1"], "scratch_top1": scratch, "delta": round(row["top1"] - scratch, 4),
                     "scratch_steps": steps, "scratch_seconds": round(seconds, 1)})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    report = {"bench": "ps_quality", "command": "python " + " ".join(sys.argv), "data": config.data, "space": config.space,
              "epochs_scale": config.epochs_scale, "batch_size": config.batch_size, "ps_steps": result.global_step,
              "ps_seconds": round(ps_seconds, 1), "total_seconds": round(time.perf_counter() - t0, 1),
              "run_dir": str(args.run_dir), "machine": machine.describe(), "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows,
              "inherited_wins": sum(r["delta"] >= 0 for r in rows), "n": len(rows)}
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
