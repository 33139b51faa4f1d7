"""Latency-table accuracy and cost on local devices (not run in CI; figures go in the issue's closing note).

For each device: build the OFA-MBv3 w1.0 table (timed: wall seconds for all blocks), measure 10
calibration sub-networks, then validate on N sub-networks spread over the latency range and report
every predictor's share within +-5%/+-10%, RMSE and rank correlation. Prints JSON and writes
bench/results/lut_accuracy_<device>.json (with the command that produced it).

    .venv/bin/python bench/lut_accuracy.py --device local-ort-cpu --resolutions 160,176,192,208,224
    .venv/bin/python bench/lut_accuracy.py --device local-litert-cpu --resolutions 160,192,224
    .venv/bin/python bench/lut_accuracy.py --device local-ort-cpu-int8          # int8 table (QDQ micro-models)
    .venv/bin/python bench/lut_accuracy.py --device local-litert-cpu-int8 --resolutions 160,224 --n 20

Int8 devices time int8 micro-models and int8 end-to-end networks, all calibrated on the built-in
digits' images (see latency/int8.py); the JSON records the table's precision and calibration.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from ofa.spaces import get_space

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

SPACE = "ofa_mbv3_d234_e346_k357_w1.0"


def repeatability(out: Path, device: str, n_blocks: int = 40, n_nets: int = 20, seed: int = 0) -> dict:
    """The noise floor, in the table's own statistic: how well the device repeats its own timings.

    ``n_blocks`` random table blocks measured twice back to back and against the table built minutes
    earlier, and ``n_nets`` validation sub-networks measured again against their validation timing (both
    drift-compensated as validation scores them: :func:`latency.e2e.e2e_values`). If
    the device itself does not repeat within +-10%, no predictor can be verified to +-10% on it; this
    puts that figure next to the predictors'.
    """
    import numpy as np
    import pandas as pd

    from devices.session import DeviceSession
    from devices.stats import budget_column, summarize
    from latency.anchor import anchor_job, network_anchor_job, table_anchor
    from latency.api import e2e_values
    from latency.blocks import enumerate_blocks
    from latency.e2e import load_e2e, subnet_job
    from latency.int8 import Int8Calibration
    from latency.micro import ModelCache
    from latency.profile import block_job
    from latency.table import LatencyTable
    from ofa.subnet import SubnetConfig

    table = LatencyTable.load(out)
    space = get_space(table.space_id)
    blocks = enumerate_blocks(space, table.resolutions, table.num_classes)
    picks = [blocks[i] for i in np.random.default_rng(seed).choice(len(blocks), min(n_blocks, len(blocks)), replace=False)]
    stored = dict(zip(table.frame["resolution"].astype(int).astype(str) + "|" + table.frame["key"], table.column(table.frame)))
    val = load_e2e(out)
    val = val[val["purpose"] == "validation"].drop_duplicates("config", keep="last")
    val = val.iloc[np.linspace(0, len(val) - 1, min(n_nets, len(val))).astype(int)]
    column = budget_column(table.budget_stat)  # what validation scores: drift-compensated like e2e_values
    stored_nets = dict(zip(val["config"], e2e_values(table, val, column)))

    def value(timings) -> dict:
        rows = {t.id: summarize(t) for t in timings}
        return dict(zip(rows, table.column(pd.DataFrame(list(rows.values())))))

    with DeviceSession(device) as session:
        cache = ModelCache.for_session(out / "models", session, Int8Calibration.of_manifest(table.manifest))
        anchor = anchor_job(table_anchor(table, space), space, cache, session)
        jobs = [block_job(b, space, cache, session.layout) for b in picks]
        runs = [value(session.measure(jobs, anchor)) for _ in range(2)]
        net_jobs = [subnet_job(space, SubnetConfig.from_json(c, space), cache, session, table.num_classes) for c in val["config"]]
        network = (val["anchor_kind"] == "network").all()
        net_anchor = network_anchor_job(space, cache, session, table.num_classes) if network else anchor
        net_rows = pd.DataFrame([summarize(t) | {"id": t.id, "anchor_kind": "network" if network else "block"}
                                 for t in session.measure(net_jobs, net_anchor)])
        nets = dict(zip(net_rows["id"], e2e_values(table, net_rows, column)))

    def stats(x):
        x = np.asarray(x)
        return {"n": int(len(x)), "median": round(float(np.median(x)), 3), "min": round(float(x.min()), 3),
                "max": round(float(x.max()), 3), "share_within_5pct": round(float(np.mean(np.abs(x - 1) <= 0.05)), 3),
                "share_within_10pct": round(float(np.mean(np.abs(x - 1) <= 0.10)), 3)}

    return {"stat": table.stat,
            "blocks_second_over_first": stats([runs[1][b.job_id] / runs[0][b.job_id] for b in picks]),
            "blocks_now_over_table": stats([runs[1][b.job_id] / stored[b.job_id] for b in picks]),
            "networks_now_over_validation": stats([nets[c] / stored_nets[c] for c in val["config"]])}


def scored_on(out: Path, column: str, seed: int = 1) -> dict:
    """Diagnostic: the predictors against another statistic of the same end-to-end rows, e.g. ``min_ms`` (each
    network's fastest run: on a shared, loaded machine the least disturbed by other processes' time slices)."""
    import numpy as np

    from latency.e2e import configs_of, load_e2e
    from latency.predictors import BlockSumPredictor, CalibratedSumPredictor
    from latency.table import LatencyTable
    from latency.validate import cross_validated, metrics

    table = LatencyTable.load(out)
    space = get_space(table.space_id)
    rows = load_e2e(out)
    val, cal = (rows[rows["purpose"] == p].drop_duplicates("config", keep="last") for p in ("validation", "calibration"))
    vc, cc = configs_of(val, space), configs_of(cal, space)
    vy, cy = table.column(val, column), table.column(cal, column)
    block_sum = BlockSumPredictor.from_table(table)

    def fit(idx):
        return CalibratedSumPredictor.fit(block_sum, [vc[i] for i in idx] + cc, np.concatenate([vy[idx], cy]))

    preds = {"block_sum": block_sum.predict(vc).mean_ms,
             "calibrated_sum": CalibratedSumPredictor.fit(block_sum, cc, cy).predict(vc).mean_ms,
             "calibrated_sum_all": cross_validated(fit, vc, seed)}
    return {"column": column, "predictors": {name: {k: round(v, 3) for k, v in metrics(p, vy).items()}
                                             for name, p in preds.items()}}


def last_fresh_build(path: Path, result: dict) -> "dict | None":
    """Build time of the last ``--fresh`` run, kept when a resumed run (e.g. a re-score) rewrites the JSON."""
    if not result["build_was_resumed"]:
        return {"build_wall_s": result["build_wall_s"], "calibration_wall_s": result["calibration_wall_s"],
                "validation_wall_s": result["validation_wall_s"], "command": result["command"]}
    old = json.loads(path.read_text()) if path.is_file() else {}
    return old.get("last_fresh_build") if old.get("resolutions") == result["resolutions"] else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="local-ort-cpu")
    ap.add_argument("--resolutions", default="160,176,192,208,224")
    ap.add_argument("--n", type=int, default=100, help="validation sub-networks")
    ap.add_argument("--calibrate", type=int, default=20, help="calibration sub-networks (the CLI's default)")
    ap.add_argument("--out", default=None, help="table directory (default runs/bench_lut_<device>)")
    ap.add_argument("--fresh", action="store_true", help="delete the table directory first (to time a full build)")
    args = ap.parse_args()

    from latency.api import calibrate
    from latency.profile import build_lut, default_convert_workers
    from latency.validate import validate_lut

    out = Path(args.out or f"runs/bench_lut_{args.device}")
    if args.fresh and out.exists():
        import shutil

        shutil.rmtree(out)
    res = [int(r) for r in args.resolutions.split(",")]
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    table = build_lut(args.device, SPACE, res, out, convert_workers=default_convert_workers())
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    calibrate(out, args.device, n=args.calibrate)
    calib_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    report = validate_lut(out, args.device, n=args.n)
    validate_s = time.perf_counter() - t2
    noise = repeatability(out, args.device)
    result = {
        "command": " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        "device": args.device, "space": SPACE, "resolutions": res, "n_blocks": len(table.frame),
        "precision": table.manifest["device"].get("precision"),
        "int8_calibration": table.manifest["protocol"].get("int8_calibration"),
        "build_wall_s": round(build_s, 1), "build_was_resumed": not args.fresh,
        "calibration_wall_s": round(calib_s, 1), "validation_wall_s": round(validate_s, 1),
        "n_validation": report["n"], "block_repeatability": noise,
        "diagnostic_on_min_ms": scored_on(out, "min_ms"), "measured_ms": report["measured_ms"], "predictors": report["predictors"],
        "fingerprint": report["device"], "machine": machine.describe(),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    path = ROOT / "results" / f"lut_accuracy_{args.device}.json"
    result |= {"last_fresh_build": last_fresh_build(path, result)}
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
