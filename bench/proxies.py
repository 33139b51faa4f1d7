"""Zero-cost proxies against measured inherited accuracy, next to FLOPs and params.

For the sub-networks of an accuracy table (``ofa acc build``: BN-recalibrated, top-1 on the held-out split),
every proxy of ``ofa.search.proxies`` is scored (``ofa proxy score``'s table, resumable under
bench/results/tmp/). Reported per score (FLOPs, params, each proxy):

- Kendall tau and Spearman rho against measured top-1 (scipy.stats), and seconds per network;
- ``beyond_flops``: Spearman rho of the score with what FLOPs leave unexplained (the residual of top-1 after a
  linear fit on log FLOPs): a proxy worth a pre-filter must rank networks *of similar cost*, which FLOPs cannot;
- ``as_feature``: held-out Kendall tau (5-fold cross-validation, ridge regression on standardised features) of
  a predictor from [log FLOPs, log params, resolution] plus that score, against the same predictor without it.

    .venv/bin/python bench/proxies.py --label demo --supernet runs/demo/_work/train/supernet \\
        --acc runs/demo/_work/accuracy --data builtin
    # CIFAR-10: an accuracy table of 50 networks on 1,000 of the 10,000 test images (the full split takes
    # ~30 s per network on this CPU), written by this script in `ofa acc build`'s format
    .venv/bin/python bench/proxies.py --label cifar10 --supernet runs/cifar_demo/supernet --data cifar10 \\
        --acc bench/results/tmp/acc_cifar10 --build-acc 50 --val-images 1000

Prints JSON and merges the label's section into bench/results/proxies.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

from ofa.artifacts import load_supernet  # noqa: E402
from ofa.data import open_dataset  # noqa: E402
from ofa.search.accuracy_table import load_table  # noqa: E402
from ofa.search.proxies import PROXIES  # noqa: E402
from ofa.search.proxies.report import correlations, proxy_columns  # noqa: E402
from ofa.search.proxies.table import ProxySettings, candidates, score_table, supernet_weights_hash  # noqa: E402

BASE_FEATURES = ("mflops", "params_m", "r")
LOG_SCALE = ("mflops", "params_m", "synflow")


def feature(table: pd.DataFrame, column: str) -> np.ndarray:
    """A score as a regression feature: log of the multiplicative ones, non-finite values set to the worst."""
    values = table[column].astype(float).to_numpy()
    finite = np.isfinite(values)
    values = np.where(finite, values, values[finite].min() if finite.any() else 0.0)
    return np.log(np.maximum(values, 1e-300)) if column in LOG_SCALE else values


def held_out_tau(table: pd.DataFrame, columns: list[str], seed: int) -> float:
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.stack([feature(table, c) for c in columns], axis=1)
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    predicted = cross_val_predict(model, x, table["top1"], cv=KFold(5, shuffle=True, random_state=seed))
    return round(float(kendalltau(predicted, table["top1"]).statistic), 4)


def helps(table: pd.DataFrame, seed: int) -> dict:
    log_flops = feature(table, "mflops")
    slope, intercept = np.polyfit(log_flops, table["top1"], 1)
    residual = table["top1"] - (slope * log_flops + intercept)
    base = held_out_tau(table, list(BASE_FEATURES), seed)
    out = {"predictor_without_proxy_tau": base}
    for column in ("params_m", *proxy_columns(table)):
        rho = spearmanr(feature(table, column), residual).statistic
        out[column] = {"beyond_flops_spearman": round(float(rho), 4),
                       "as_feature_tau": base if column == "params_m" else held_out_tau(table, [*BASE_FEATURES, column], seed)}
    return out


def build_small_acc_table(supernet, weights: str, data: str, out: Path, n: int, val_images: int, seed: int) -> None:
    """``n`` sampled networks measured like ``ofa acc build`` (BN recalibrated on 300 training images), but on
    the first ``val_images`` images of the validation split; written in its format (table + manifest)."""
    from ofa.complexity import subnet_cost
    from ofa.search.accuracy_table import MANIFEST, TABLE, SubnetEvaluator, sample_configs

    if (out / TABLE).is_file():
        return
    evaluator = SubnetEvaluator(supernet, open_dataset(data), 300, seed=seed, max_val_images=val_images)
    rows = []
    for index, cfg in enumerate(sample_configs(supernet.space, n, seed)):
        t0 = time.perf_counter()
        cost = subnet_cost(supernet.space, cfg, supernet.num_classes)
        rows.append({"index": index, "subnet": cfg.to_json(), "r": cfg.r, **evaluator.evaluate(cfg),
                     "mflops": cost.mflops, "params_m": cost.params_m, "eval_s": time.perf_counter() - t0})
        print(f"acc {index + 1}/{n}", file=sys.stderr, flush=True)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"supernet_sha256": weights, "data": data, "samples": n, "seed": seed, "calib_images": 300,
                "val_images": val_images}
    (out / MANIFEST).write_text(json.dumps({"schema_version": 1, "settings": settings}))
    pd.DataFrame(rows).to_csv(out / TABLE, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--label", required=True, help="name of this supernet's section, e.g. demo or cifar10")
    parser.add_argument("--supernet", type=Path, required=True)
    parser.add_argument("--acc", type=Path, required=True, help="an `ofa acc build` directory of that supernet")
    parser.add_argument("--data", default="builtin")
    parser.add_argument("--proxies", default=",".join(PROXIES.names()))
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: cores shared with other jobs "
                        "made 2 threads up to 18x slower here)")
    parser.add_argument("--build-acc", type=int, default=0, help="first measure this many networks into --acc")
    parser.add_argument("--val-images", type=int, default=1000, help="validation images of --build-acc")
    parser.add_argument("--work", type=Path, default=ROOT / "results" / "tmp" / "proxies")
    parser.add_argument("--result", type=Path, default=ROOT / "results" / "proxies.json")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    supernet = load_supernet(args.supernet)
    weights = supernet_weights_hash(args.supernet)
    if args.build_acc:
        build_small_acc_table(supernet, weights, args.data, args.acc, args.build_acc, args.val_images, args.seed)
    items = candidates(supernet, None, args.seed, args.acc, weights)
    settings = ProxySettings(tuple(args.proxies.split(",")), args.batches, args.batch_size, args.seed)
    provenance = {"supernet_sha256": weights, "data": args.data, "acc": str(args.acc)}
    table = score_table(supernet, lambda: open_dataset(args.data), args.work / f"{args.label}.csv", items, settings,
                        provenance, on_row=lambda done, total: print(f"{done}/{total}", file=sys.stderr, flush=True))
    acc = load_table(args.acc)
    section = {"command": "python " + " ".join(sys.argv), "supernet": str(args.supernet), "space": supernet.space.id,
               "data": args.data, "networks": len(table), "proxy_batches": f"{args.batches} x {args.batch_size}",
               "torch_threads": args.threads,
               "top1_range": [float(table["top1"].min()), float(table["top1"].max())],
               "measured_eval_seconds_per_net": round(float(acc["eval_s"].mean()), 3) if "eval_s" in acc else None,
               "correlations": correlations(table), "helps": helps(table, args.seed),
               "proxy_seconds_all_networks": round(float(sum(table[f"{p}_s"].sum() for p in settings.proxies)), 1),
               "wall_seconds_this_run": round(time.perf_counter() - t0, 1), "machine": machine.describe(),
               "note": "seconds on 2 CPU cores that other jobs shared", "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    report = json.loads(args.result.read_text()) if args.result.is_file() else {"bench": "proxies", "supernets": {}}
    report["supernets"][args.label] = section
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(section, indent=1))


if __name__ == "__main__":
    main()
