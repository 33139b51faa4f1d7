"""Export figures of one sub-network (tiny space, trained 3 epochs on the built-in digits):
diffs per format/precision, int8 accuracy drop on the builtin validation split, file sizes, and
latency per runtime on this machine. Prints JSON and writes bench/results/export_figures.json.

    .venv/bin/python bench/export_figures.py [--epochs 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from export.api import export_model  # noqa: E402
from ofa.io import atomic_write_json  # noqa: E402
from test_export_support import TINY, make_subnet  # noqa: E402


def figures(epochs: int, threads: int) -> dict:
    net = make_subnet(TINY, seed=0, resolution=32, epochs=epochs)
    with tempfile.TemporaryDirectory() as out:
        report = export_model(net, "onnx,tflite,tensorrt", "fp32,fp16,int8", out, val_images=359, calib_images=200,
                              threads=threads, latency_repeats=100, allow_mismatch=True)
    rows = []
    for r in report.results:
        m = r.outputs.get("logits", {})
        rows.append({"format": r.format, "precision": r.precision, "status": r.status, "runtime": r.runtime,
                     "size_bytes": r.size_bytes, "max_abs_diff": m.get("max_abs_diff"), "max_rel_diff": m.get("max_rel_diff"),
                     "top1_agreement": m.get("top1_agreement"), "accuracy_reference": m.get("accuracy_reference"),
                     "accuracy_exported": m.get("accuracy_exported"), "accuracy_drop": m.get("accuracy_drop"),
                     "latency_median_ms": r.latency and r.latency["median_ms"], "latency_std_ms": r.latency and r.latency["std_ms"],
                     "engine": (r.engine or {}).get("status"), "failures": r.failures})
    return {"model": {k: report.model[k] for k in ("space", "subnet", "resolution", "parameters")}, "epochs": epochs,
            "images": report.images, "threads": threads, "pytorch_latency_median_ms": report.reference_latency["median_ms"],
            "tools": report.tools, "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = figures(args.epochs, args.threads)
    atomic_write_json(Path(__file__).parent / "results" / "export_figures.json", data)
    print(json.dumps(data, indent=2))


if __name__ == "__main__":
    main()
