"""OFA-ResNet50 latency table at one resolution, its block sum and calibrated sum against whole networks.

Builds (or resumes) a table of ``--space`` (default ``ofa_resnet50``) at ``--resolution`` on ``--device``
(``ofa lut build``'s path: micro-models of the network's own modules, the device runner's protocol, the drift
anchor) and its ``--calibrate`` calibration networks (``ofa lut build --calibrate``), then times ``--n`` other
sub-networks (smallest, largest, sampled) end to end in the same device session (the whole static network
exported the same way, the same anchor between rounds). Each predictor is compared with them in the
statistic it predicts: the block sum in the table's ``steady_ms`` (drift-compensated minimum), the calibrated
sum in the table's budget statistic (the median of plain timed runs). Reports measured / predicted (median,
min, max), the share within +-10 % and the Spearman rank correlation. Not in CI (minutes); prints JSON and
writes bench/results/resnet_lut_check.json.

    taskset -c 0 .venv/bin/python bench/resnet_lut_check.py --device local-ort-cpu --resolution 128 --n 10
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

from devices.modelfile import export_module, model_job  # noqa: E402
from devices.session import DeviceSession  # noqa: E402
from devices.stats import budget_column, summarize  # noqa: E402
from latency.anchor import anchor_job, table_anchor  # noqa: E402
from latency.api import calibrate, load_predictor  # noqa: E402
from latency.micro import ModelCache  # noqa: E402
from latency.profile import build_lut  # noqa: E402
from latency.resnet_blocks import lut_space  # noqa: E402
from latency.table import LatencyTable  # noqa: E402
from ofa.nn.resnet import StaticResNet  # noqa: E402
from ofa.spaces.resnet import ResNetConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="local-ort-cpu")
    parser.add_argument("--space", default="ofa_resnet50")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--n", type=int, default=10, help="Validation networks.")
    parser.add_argument("--calibrate", type=int, default=20, help="Calibration networks (0: block sum only).")
    parser.add_argument("--num-classes", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "tmp" / "resnet_lut_check", help="Table directory (resumable).")
    args = parser.parse_args()
    space, r = lut_space(args.space), args.resolution
    with DeviceSession(args.device) as session:
        start = time.perf_counter()
        table = build_lut(args.device, space, [r], args.out, args.num_classes, 32, session=session)
        build_s = time.perf_counter() - start
        if args.calibrate:
            calibrate(args.out, n=args.calibrate, session=session)
        configs = [ResNetConfig.smallest(space, r), ResNetConfig.largest(space, r)]
        configs += [replace(ResNetConfig.sample(space, seed=10_000 + i), r=r) for i in range(args.n - 2)]
        frame = pd.DataFrame(measure_networks(session, space, configs, table, args.num_classes))
    predictors = {"block_sum": (load_predictor(args.out, "block_sum"), table.column(frame))}
    if args.calibrate:
        predictors["calibrated_sum"] = (load_predictor(args.out, "calibrated_sum"),
                                        table.column(frame, budget_column(table.budget_stat)))
    result = {"bench": "resnet_lut_check", "space": space.id, "device": args.device, "resolution": r,
              "blocks": len(table.frame), "table_build_seconds": round(build_s, 1),
              "calibration_networks": args.calibrate, "validation_networks": len(configs), "predictors": {}, "rows": []}
    from scipy.stats import spearmanr

    for name, (model, measured) in predictors.items():
        predicted = model.predict(configs).mean_ms
        ratio = measured / predicted
        result["predictors"][name] = {
            "statistic": table.stat if name == "block_sum" else table.budget_stat,
            "ratio_measured_over_predicted": {"median": float(np.median(ratio)), "min": float(ratio.min()),
                                              "max": float(ratio.max())},
            "within_10pct": float(np.mean(np.abs(ratio - 1) <= 0.1)),
            "spearman": float(spearmanr(measured, predicted).statistic)}
        result["rows"] += [{"predictor": name, "config": c.to_dict(), "predicted_ms": float(p), "measured_ms": float(m)}
                           for c, p, m in zip(configs, predicted, measured)]
    result |= {"command": "python bench/resnet_lut_check.py " + shlex.join(sys.argv[1:]), "machine": machine.describe()}
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    (ROOT / "results" / "resnet_lut_check.json").write_text(json.dumps(result, indent=2) + "\n")


def measure_networks(session, space, configs, table: LatencyTable, num_classes: int) -> list[dict]:
    """Each whole static network, exported like a micro-model, timed with the table's anchor between rounds."""
    with tempfile.TemporaryDirectory(prefix="resnet-e2e-") as tmp:
        cache = ModelCache.for_session(Path(tmp) / "anchor", session)
        anchor = anchor_job(table_anchor(table, space), space, cache, session)
        jobs = []
        for i, cfg in enumerate(configs):
            torch.manual_seed(i)
            path = Path(tmp) / f"net{i}.{session.model_format}"
            export_module(StaticResNet(space, cfg, num_classes).eval(), torch.randn(1, 3, cfg.r, cfg.r), path,
                          session.model_format)
            jobs.append(model_job(str(i), path, (1, 3, cfg.r, cfg.r), session.layout))
        by_id = {t.id: summarize(t) for t in session.measure(jobs, anchor)}
    return [by_id[str(i)] for i in range(len(configs))]


if __name__ == "__main__":
    main()
