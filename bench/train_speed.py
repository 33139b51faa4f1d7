"""Training-step throughput: this trainer's step vs the official OFA package, same run, A/B alternating.

Same space (OFA-MobileNetV3 w1.0, 10 classes), batch 32, resolutions 128 and 64, 2 threads, the largest
sub-network and random sub-networks (the same random configs for both, drawn here). Each side is a
persistent worker process; the driver alternates blocks of steps between them so drift in machine load
hits both equally. The step is: select sub-network, forward, label-smoothed CE, backward, SGD (Nesterov)
step. Ours is ``ofa.train.loop.train_step`` itself (channels_last on and off).

The official package (PyPI ``ofa==0.1.0.post202307202001``) runs in its own venv with a stub
``torchvision`` on its path; see bench/official_ofa.py.

    .venv/bin/python bench/train_speed.py                 # prints JSON, writes bench/results/train_speed.json
    .venv/bin/python bench/train_speed.py --steps 2 --rounds 1 --resolutions 64   # quick check
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402
from official_ofa import OFFICIAL_VERSION, ensure_venv, official_env  # noqa: E402

OFFICIAL_PACKAGE = f"ofa=={OFFICIAL_VERSION}"
KS, ES, DS, STAGES, DEPTH = (3, 5, 7), (3, 4, 6), (2, 3, 4), 5, 4

# ----- the two workers: read {"mode", "r", "steps", "warmup", "configs"} lines, answer {"ms": [...]} -----
COMMON = r'''
import json, sys, time, torch
import torch.nn.functional as F
torch.set_num_threads(THREADS)
torch.manual_seed(0)

def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()

def serve(prepare, step):
    for line in sys.stdin:
        job = json.loads(line)
        x = torch.randn(BATCH, 3, job["r"], job["r"], device=DEVICE)
        y = torch.randint(0, 10, (BATCH,), device=DEVICE)
        times = []
        for i, cfg in enumerate(job["configs"]):
            prepare(cfg)
            sync()
            t0 = time.perf_counter()
            step(cfg, x, y)
            sync()
            if i >= job["warmup"]:
                times.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({"ms": times}), flush=True)
'''

OFFICIAL_WORKER = COMMON + r'''
from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3
net = OFAMobileNetV3(n_classes=10, dropout_rate=0.0, width_mult=1.0, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6],
                     depth_list=[2, 3, 4]).to(DEVICE)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=3e-5)
net.train()

def prepare(cfg):
    pass

def step(cfg, x, y):  # OFA's per-step work: choose the sub-network, forward, loss, backward, update
    net.set_active_subnet(ks=cfg["ks"], e=cfg["e"], d=cfg["d"])
    opt.zero_grad()
    loss = F.cross_entropy(net(x), y, label_smoothing=0.1)
    loss.backward()
    opt.step()

serve(prepare, step)
'''

OURS_WORKER = COMMON + r'''
from types import SimpleNamespace
from ofa import SubnetConfig, get_space
from ofa.nn.supernet import OFASupernet
from ofa.train import load_config
from ofa.train.ddp import DistContext
from ofa.train.loop import train_step
from ofa.train.prepare import build_optimizer, place

official = get_space("ofa_mbv3_d234_e346_k357_w1.0")  # the official space, with 64 added to its resolutions
space = get_space({**official.model_dump(), "id": official.id + "_r64", "resolutions": [64, *official.resolutions]})
config = load_config(overrides=["channels_last=" + CHANNELS_LAST, "dropout=0"])  # loss and optimizer settings
net = place(OFASupernet(space, 10, 0.0), config, torch.device(DEVICE))
run = SimpleNamespace(config=config, net=net, teacher=None, ctx=DistContext(device=torch.device(DEVICE)))
stage = config.schedule[0].model_copy(update={"kd_weight": 0.0})
opt = build_optimizer(net, config, 0.01)
fmt = torch.channels_last if config.channels_last else torch.contiguous_format

def prepare(cfg):
    pass

def step(cfg, x, y):
    sub = SubnetConfig(space.id, tuple(cfg["ks"]), tuple(cfg["e"]), tuple(cfg["d"]), x.shape[-1])
    train_step(run, opt, stage, [sub], x.contiguous(memory_format=fmt), y)

serve(prepare, step)
'''


class Worker:
    def __init__(self, name: str, python: Path, source: str, env_code: str, env: dict | None = None):
        self.name = name
        self.proc = subprocess.Popen([str(python), "-c", env_code + source], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=str(ROOT), env=env)

    def run(self, r: int, configs: list[dict], warmup: int) -> list[float]:
        self.proc.stdin.write(json.dumps({"r": r, "configs": configs, "warmup": warmup}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} worker died (exit {self.proc.poll()})")
        return json.loads(line)["ms"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def configs_for(mode: str, n: int, rng: random.Random) -> list[dict]:
    slots = STAGES * DEPTH
    if mode == "largest":
        return [{"ks": [max(KS)] * slots, "e": [max(ES)] * slots, "d": [max(DS)] * STAGES}] * n
    return [{"ks": [rng.choice(KS) for _ in range(slots)], "e": [rng.choice(ES) for _ in range(slots)],
             "d": [rng.choice(DS) for _ in range(STAGES)]} for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per block")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="A/B alternations per (mode, resolution)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS / "train_speed.json")
    args = parser.parse_args()

    env_code = f"THREADS = {args.threads}\nBATCH = {args.batch}\nDEVICE = {args.device!r}\n"
    workers = {
        "official": Worker("official", ensure_venv(), OFFICIAL_WORKER, env_code, official_env(args.threads)),
        "ours": Worker("ours", Path(sys.executable), OURS_WORKER, env_code + 'CHANNELS_LAST = "true"\n'),
        "ours_nchw": Worker("ours_nchw", Path(sys.executable), OURS_WORKER, env_code + 'CHANNELS_LAST = "false"\n'),
    }
    rng = random.Random(0)
    rows = []
    try:
        for mode in ("largest", "random"):
            for r in args.resolutions:
                times: dict[str, list[float]] = {name: [] for name in workers}
                for _ in range(args.rounds):
                    configs = configs_for(mode, args.warmup + args.steps, rng)
                    for name, worker in workers.items():  # A/B(/C) alternating, same configs
                        times[name] += worker.run(r, configs, args.warmup)
                row = {"mode": mode, "r": r, **{f"{n}_ms_per_step": round(statistics.median(t), 1) for n, t in times.items()}}
                for name in ("ours", "ours_nchw"):
                    row[f"{name}_speedup"] = round(row["official_ms_per_step"] / row[f"{name}_ms_per_step"], 3)
                row["images_per_s"] = {n: round(args.batch * 1000 / row[f"{n}_ms_per_step"], 1) for n in workers}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    result = {"bench": "train_speed", "command": "python " + " ".join(sys.argv), "device": args.device,
              "batch": args.batch, "threads": args.threads,
              "steps_per_block": args.steps, "rounds": args.rounds, "official_package": OFFICIAL_PACKAGE,
              "machine": machine.describe(),
              "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
