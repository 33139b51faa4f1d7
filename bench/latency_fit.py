"""Latency from a few end-to-end timings: how many measured sub-networks a fitted predictor needs.

Device mode: measure M sub-networks of OFA-MBv3 w1.0 end to end once (``ofa device measure``'s
stratified sample and code path, resumable), then for each N and each of 5 seeds, fit on N random ones
(``ofa latency fit``'s code: family chosen by cross-validation) and score on all the others (held out).
Also measures the first ``--repeat`` networks a second time: the device's repeatability, which bounds
what any predictor can be shown to reach here.

Synthetic mode (``--synthetic``, clearly not a measurement): a launch-bound GPU at batch 1, made from
OFA's Note10 table (w1.2 space): latency = 0.15 x the Note10 block sum + 0.06 ms per kernel launch
(3 per MBConv block, 5 with squeeze-excite, plus 6 for stem and head) + 0.4 ms, times lognormal noise
(sigma 3 %). Checks the families on a device where launches, not FLOPs, dominate.

    .venv/bin/python bench/latency_fit.py --device local-ort-cpu --m 210
    .venv/bin/python bench/latency_fit.py --device local-litert-cpu --m 130 --sizes 10,20
    .venv/bin/python bench/latency_fit.py --synthetic
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

SPACE = "ofa_mbv3_d234_e346_k357_w1.0"
NOTE10 = ROOT.parent.parent / "shared" / "data" / "ofa_latency_luts" / "note10"


def learning_curve(data, space, sizes, seeds, num_classes=1000) -> dict:
    """For each N: fit on N random networks per seed, score on the rest; mean/min/max over seeds."""
    from latency.fit import fit_model
    from latency.validate import metrics

    curve = {}
    for n in sizes:
        runs = []
        for seed in range(seeds):
            order = _split(data, n, seed)
            train, test = data.take(order[:n]), data.take(order[n:])
            model, report = fit_model(train, space, seed=seed, num_classes=num_classes)
            pred = model.predict(test.configs)
            m = metrics(pred.mean_ms, test.latency_ms)
            m["within_1std"] = float(np.mean(np.abs(pred.mean_ms - test.latency_ms) <= pred.std_ms))
            runs.append(m | {"chosen": report["chosen"], "n_test": len(test)})
        keys = ("within_5pct", "within_10pct", "rmse_pct", "spearman", "kendall", "within_1std")
        curve[str(n)] = {k: {"mean": float(np.mean([r[k] for r in runs])), "min": float(np.min([r[k] for r in runs])),
                             "max": float(np.max([r[k] for r in runs]))} for k in keys}
        curve[str(n)] |= {"chosen": [r["chosen"] for r in runs], "n_test": runs[0]["n_test"]}
        print(f"N={n}: within10 {curve[str(n)]['within_10pct']['mean']:.3f} spearman "
              f"{curve[str(n)]['spearman']['mean']:.3f} chosen {curve[str(n)]['chosen']}", file=sys.stderr)
    return curve


def _split(data, n: int, seed: int) -> np.ndarray:
    """A random order whose first ``n`` (the training set) include a network at the lowest and the highest
    resolution, as `ofa device measure` does: a fit covers only the resolutions between those it saw."""
    order = list(np.random.default_rng(1000 + seed).permutation(len(data)))
    rs = [data.configs[i].r for i in order]
    for target in (min(rs), max(rs)):
        if target not in rs[:n]:
            j = rs.index(target)
            order.insert(0, order.pop(j))
            rs.insert(0, rs.pop(j))
    return np.array(order)


def first_n_reaching(curve: dict, share: float) -> "int | None":
    hits = [int(n) for n, v in curve.items() if v["within_10pct"]["mean"] >= share]
    return min(hits) if hits else None


def repeatability(first: Path, second: Path) -> dict:
    """The same networks timed twice (two sessions): how often the figures agree, raw and drift-compensated
    (each latency over its own anchor timing: the factor a fit's compensation removes)."""
    import csv

    a = {r["config"]: r for r in csv.DictReader(open(first))}
    b = {r["config"]: r for r in csv.DictReader(open(second))}
    common = [c for c in b if c in a]
    out = {"n": len(common)}
    for name, value in (("raw", lambda r: float(r["latency_ms"])),
                        ("drift_compensated", lambda r: float(r["latency_ms"]) / float(r.get("anchor_ms") or "nan"))):
        ratio = np.array([value(b[c]) / value(a[c]) for c in common])
        if np.isnan(ratio).any():
            continue
        out[name] = {"within_5pct": float(np.mean(np.abs(ratio - 1) <= 0.05)),
                     "within_10pct": float(np.mean(np.abs(ratio - 1) <= 0.10)),
                     "ratio_second_over_first": {"median": float(np.median(ratio)), "min": float(ratio.min()),
                                                 "max": float(ratio.max())}}
    return out


def device_mode(args) -> dict:
    from latency.measure import measure_configs, measure_to_file
    from latency.measurements import read_measurements
    from ofa.spaces import get_space

    space = get_space(SPACE)
    res = [int(r) for r in args.resolutions.split(",")]
    work = ROOT / "results" / "latency_fit"
    stem = args.device + (f"_{args.tag}" if args.tag else "")
    main, again = work / f"{stem}.csv", work / f"{stem}_repeat.csv"
    t0 = time.time()
    if not args.evaluate_only:
        measure_to_file(args.device, space, args.m, main, res, seed=0, design=args.design)
    t_measure = time.time() - t0
    t0 = time.time()
    if args.repeat:
        first = read_measurements(main, space).configs[:args.repeat]
        measure_configs(args.device, space, first, again)  # the same networks, measured again afterwards
    t_repeat = time.time() - t0
    data = read_measurements(main, space)  # drift-compensated when the rows carry anchor timings
    sizes = [n for n in map(int, args.sizes.split(",")) if len(data) - n >= 1]
    curve = learning_curve(data, space, sizes, args.seeds)
    raw = None
    if data.drift_reference_ms is not None:
        raw = {"what": "the same fits and splits on the raw figures (--no-drift-compensation): how much the "
                       "device's drift during the run costs", "curve": learning_curve(
                           read_measurements(main, space, drift=False), space, sizes, args.seeds)}
    return {"drift_reference_ms": data.drift_reference_ms, "raw_figures": raw, "device": args.device,
            "space": SPACE, "resolutions": res, "statistic": data.statistic, "design": args.design,
            "measured": len(data), "measure_seconds": round(t_measure, 1), "repeat_seconds": round(t_repeat, 1),
            "measure_seconds_note": "0 with --evaluate-only (measured by an earlier run)",
            "latency_ms": {"min": float(data.latency_ms.min()), "max": float(data.latency_ms.max())},
            "curve": curve, "n_for_95pct_within_10": first_n_reaching(curve, 0.95),
            "n_for_99pct_within_10": first_n_reaching(curve, 0.99),
            "repeatability": repeatability(main, again) if again.is_file() else None,
            "measurements_file": str(main.relative_to(ROOT.parent))}


def synthetic_mode(args) -> dict:
    import tempfile

    from latency.blocks import network_block_keys
    from latency.measurements import Measurements
    from latency.ofa_import import import_ofa_tables
    from latency.predictors import BlockSumPredictor
    from ofa.spaces import get_space
    from ofa.subnet import SubnetConfig

    space = get_space("ofa_mbv3_d234_e346_k357_w1.2")
    with tempfile.TemporaryDirectory() as tmp:
        table = import_ofa_tables(NOTE10, Path(tmp) / "note10", space.id)
        block_sum = BlockSumPredictor.from_table(table)
    rng = np.random.default_rng(0)
    configs = list(dict.fromkeys(SubnetConfig.sample(space, int(s), r=tuple(table.resolutions)).canonical(space)
                                 for s in rng.integers(0, 2**31, args.m)))
    sums = block_sum.predict(configs).mean_ms
    launches = np.array([6 + sum(5 if "se:1" in k else 3 for k in network_block_keys(space, c)[1:-4])
                         for c in configs])
    latency = (0.15 * sums + 0.06 * launches + 0.4) * np.exp(rng.normal(0, 0.03, len(configs)))
    data = Measurements(configs, latency, "median", ["synthetic"] * len(configs), [])
    curve = learning_curve(data, space, [int(n) for n in args.sizes.split(",")], args.seeds)
    return {"synthetic": True, "what": "NOT a measurement: 0.15 x Note10 block sum + 0.06 ms per kernel launch + "
            "0.4 ms, lognormal noise sigma 3 % (a launch-bound GPU at batch 1)", "space": space.id,
            "resolutions": table.resolutions, "networks": len(data),
            "latency_ms": {"min": float(latency.min()), "max": float(latency.max())},
            "launch_share_median": float(np.median(0.06 * launches / latency)), "curve": curve,
            "n_for_99pct_within_10": first_n_reaching(curve, 0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="local-ort-cpu")
    parser.add_argument("--m", type=int, default=210, help="networks measured (device) or simulated (synthetic)")
    parser.add_argument("--repeat", type=int, default=20, help="networks measured a second time")
    parser.add_argument("--resolutions", default="160,176,192,208,224")
    parser.add_argument("--sizes", default="10,20,50,100")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--design", default="stratified", help="which M networks to measure (`ofa device measure "
                        "--design`): stratified keeps the pool representative for the random splits")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--tag", default="", help="suffix of the measurement and result files (keeps runs apart)")
    parser.add_argument("--note", default="", help="the conditions of the run, recorded in the result "
                        "(e.g. 'pinned to CPU 1 with taskset; CPU 0 ran other work')")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="measure no more networks: fit and score on those already in the file (a cut-short run)")
    args = parser.parse_args()
    if args.synthetic and args.m == 210:
        args.m = 1100
    t0 = time.time()
    result = synthetic_mode(args) if args.synthetic else device_mode(args)
    result |= {"command": "python bench/latency_fit.py " + shlex.join(sys.argv[1:]), "machine": machine.describe(),
               "note": args.note or "no note given: see load_average_1min and cpu_affinity",
               "seconds": round(time.time() - t0, 1)}
    name = "latency_fit_synthetic.json" if args.synthetic else f"latency_fit_{args.device}.json"
    if args.tag:
        name = name.replace(".json", f"_{args.tag}.json")
    if args.evaluate_only:  # keeps the measuring run's file (with its timings) beside this one
        name = name.replace(".json", "_evaluated.json")
    (ROOT / "results" / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
