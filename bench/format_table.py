"""Format x precision table of one sub-network (tiny space, trained on the built-in digits): file size,
max abs diff and top-1 agreement with PyTorch, accuracy drop on the digits' validation split, and median
single-image latency (1 thread; 5 warm-up runs, then the median of --repeats timed runs) for ONNX,
TFLite, ExecuTorch and OpenVINO at every precision each supports, plus Core ML's conversion checks
(its runtime parity is unverified: predictions need macOS). Prints JSON and a Markdown table and writes
bench/results/format_table.json.

    .venv/bin/python bench/format_table.py [--epochs 3] [--repeats 100] [--threads 1]
    .venv/bin/python bench/format_table.py --space mbv3   # an MBV3 sub-network at 128 px: random features with
        # BN statistics from the digits and a fitted classifier (training it here would take hours);
        # writes bench/results/format_table_mbv3.json

Needs the optional extras: pip install -e '.[tflite,openvino,executorch,coreml]'.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from export.api import export_model  # noqa: E402
from export.formats import get_exporter  # noqa: E402
from ofa.env import cpu_model  # noqa: E402
from ofa.io import atomic_write_json  # noqa: E402
from test_export_support import MBV3, TINY, make_subnet  # noqa: E402

FORMATS = ("onnx", "tflite", "executorch", "openvino", "coreml")


def network(space: str, epochs: int):
    if space == "tiny":
        return make_subnet(TINY, seed=0, resolution=32, epochs=epochs)
    return make_subnet(MBV3, seed=1, resolution=128, head_images=1000, bn_images=200)


def table(space: str, epochs: int, repeats: int, threads: int) -> dict:
    net = network(space, epochs)
    rows, reports = [], {}
    with tempfile.TemporaryDirectory() as out:
        for fmt in FORMATS:
            precisions = ",".join(get_exporter(fmt).precisions)
            report = export_model(net, fmt, precisions, Path(out) / fmt, val_images=359, calib_images=200,
                                  threads=threads, latency_repeats=repeats, allow_mismatch=True)
            reports[fmt] = report
            rows += [_row(r) for r in report.results]
    first = next(iter(reports.values()))
    training = f"{epochs} epochs on the digits" if space == "tiny" else "random features, classifier fitted on 1000 digits"
    return {"model": {k: first.model[k] for k in ("space", "subnet", "resolution", "parameters")}, "training": training,
            "epochs": epochs if space == "tiny" else 0,
            "images": first.images, "threads": threads, "latency_statistic": f"median of {repeats} runs after 5 warm-up",
            "pytorch_latency_median_ms": first.reference_latency["median_ms"], "tools": first.tools,
            "machine": {"cpu": cpu_model(), "platform": platform.platform()}, "rows": rows}


def _row(r) -> dict:
    m = r.outputs.get("logits", {})
    return {"format": r.format, "precision": r.precision, "status": r.status, "runtime": r.runtime,
            "runtime_parity": r.runtime_parity, "size_bytes": r.size_bytes, "max_abs_diff": m.get("max_abs_diff"),
            "top1_agreement": m.get("top1_agreement"), "accuracy_reference": m.get("accuracy_reference"),
            "accuracy_exported": m.get("accuracy_exported"), "accuracy_drop": m.get("accuracy_drop"),
            "latency_median_ms": r.latency and r.latency["median_ms"], "latency_std_ms": r.latency and r.latency["std_ms"],
            "checks": {k: v for k, v in r.checks.items() if k in ("ops", "inference_precision", "xnnpack_delegate",
                                                                   "weights_bytes", "graph_bytes")},
            "failures": r.failures}


def markdown(data: dict) -> str:
    lines = ["| format | precision | status | size (KB) | max abs diff | top-1 agree | acc. drop (pts) | median ms |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in data["rows"]:
        def fmt(value, spec):
            return "—" if value is None else format(value, spec)
        drop = None if r["accuracy_drop"] is None else r["accuracy_drop"] * 100
        status = r["status"] if r["runtime_parity"] == "verified" else f"{r['status']}, {r['runtime_parity']}"
        lines.append(f"| {r['format']} | {r['precision']} | {status} | {fmt(r['size_bytes'] / 1024, '.1f')} | "
                     f"{fmt(r['max_abs_diff'], '.2e')} | {fmt(r['top1_agreement'], '.4f')} | {fmt(drop, '+.2f')} | "
                     f"{fmt(r['latency_median_ms'], '.4f')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", choices=("tiny", "mbv3"), default="tiny")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs of the tiny sub-network")
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    started = time.time()
    data = table(args.space, args.epochs, args.repeats, args.threads)
    data["command"] = " ".join([".venv/bin/python", "bench/format_table.py", *sys.argv[1:]])
    data["seconds"] = round(time.time() - started, 1)
    data["markdown"] = markdown(data)
    name = "format_table.json" if args.space == "tiny" else f"format_table_{args.space}.json"
    atomic_write_json(Path(__file__).parent / "results" / name, data)
    print(json.dumps({k: v for k, v in data.items() if k != "markdown"}, indent=2))
    print(data["markdown"])


if __name__ == "__main__":
    main()
