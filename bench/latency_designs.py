"""Which N networks to measure for `ofa latency fit`: the d-optimal and stratified designs, as a user runs them.

For each design: ``ofa device measure DEVICE --n N --design D`` (real timings, this run), ``ofa latency
fit`` on those N rows, ``ofa latency score`` on held-out networks of the same device, minus every network
either design picked, so both designs are scored on the same networks. Held out: ``--held-out FILE``
(measured earlier, e.g. ``bench/latency_fit.py``'s 130-network file), or ``--measure-held-out M``: M
stratified networks of another seed, measured in this run after the designs. Scoring rescales the held-out
rows to each predictor's own drift reference (the anchor timing of its fit). ``--reference-lut DIR``
adds an arm: the d-optimal networks fitted with a profiled table of the device as an extra family
(``ofa latency fit --reference-lut``: a table and end-to-end timings combined).

    .venv/bin/python bench/latency_designs.py --device local-litert-cpu \\
        --held-out bench/results/latency_fit/local-litert-cpu_netanchor.csv --n 20
    .venv/bin/python bench/latency_designs.py --device local-ort-cpu-int8 --measure-held-out 100 \\
        --reference-lut runs/bench_lut_local-ort-cpu-int8
"""

from __future__ import annotations

import argparse
import csv
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

SPACE = "ofa_mbv3_d234_e346_k357_w1.0"
RESOLUTIONS = "160,176,192,208,224"


def ofa(*args: str) -> str:
    """One `ofa` command, as a user types it (argv list); its stdout."""
    cmd = [sys.executable, "-m", "ofa.cli.main", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT.parent)
    if done.returncode:
        raise SystemExit(f"{shlex.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def held_out_file(src: Path, exclude: set[str], out: Path) -> int:
    with src.open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["config"] not in exclude]
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", required=True)
    parser.add_argument("--held-out", type=Path, help="held-out measurement file (else --measure-held-out)")
    parser.add_argument("--measure-held-out", type=int, default=0, help="measure this many held-out networks")
    parser.add_argument("--reference-lut", type=Path, help="a profiled table of the device: adds a combined arm")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--designs", default="d-optimal,stratified")
    parser.add_argument("--tag", default="")
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    work = ROOT / "results" / "latency_designs"
    work.mkdir(parents=True, exist_ok=True)
    stem = f"{args.device}_n{args.n}" + (f"_{args.tag}" if args.tag else "")
    t0, files, seconds = time.time(), {}, {}
    for design in args.designs.split(","):
        files[design] = work / f"{stem}_{design}.csv"
        start = time.time()
        ofa("device", "measure", args.device, "--space", SPACE, "--n", str(args.n), "--design", design,
            "--resolutions", RESOLUTIONS, "--out", str(files[design]))
        seconds[design] = round(time.time() - start, 1)
    if args.measure_held_out:
        args.held_out = work / f"{stem}_held_out_measured.csv"
        start = time.time()
        ofa("device", "measure", args.device, "--space", SPACE, "--n", str(args.measure_held_out), "--design",
            "stratified", "--seed", "1", "--resolutions", RESOLUTIONS, "--out", str(args.held_out))
        seconds["held_out"] = round(time.time() - start, 1)
    if args.held_out is None:
        raise SystemExit("give --held-out FILE or --measure-held-out M")
    picked = set()
    for path in files.values():
        with path.open() as fh:
            picked |= {r["config"] for r in csv.DictReader(fh)}
    held = work / f"{stem}_held_out.csv"
    n_held = held_out_file(args.held_out, picked, held)
    results = {}
    arms = dict(files)
    if args.reference_lut:
        arms["d-optimal+reference"] = files["d-optimal"]
        seconds["d-optimal+reference"] = seconds["d-optimal"]
    for design, path in arms.items():
        pred = work / f"{stem}_{design}_predictor"
        extra = ["--reference-lut", str(args.reference_lut)] if design.endswith("+reference") else []
        ofa("latency", "fit", str(path), "--space", SPACE, "--out", str(pred), *extra)
        report = json.loads(ofa("latency", "score", str(pred), str(held), "--json"))
        chosen = json.loads((pred / "manifest.json").read_text())["family"]
        results[design] = {k: report[k] for k in ("within_5pct", "within_10pct", "rmse_pct", "spearman", "kendall",
                                                   "within_1std", "within_2std", "n")} | {
            "family": chosen, "measure_seconds": seconds[design], "file": str(path.relative_to(ROOT.parent))}
        print(f"{design}: within10 {report['within_10pct']:.3f} spearman {report['spearman']:.3f} ({chosen}) "
              f"on {report['n']} held out", file=sys.stderr)
    result = {"device": args.device, "space": SPACE, "n": args.n, "held_out_source": str(args.held_out),
              "held_out": n_held, "held_out_seconds": seconds.get("held_out"), "designs": results,
              "statistic": "share of held-out networks whose prediction is within +-10 % of the measured median "
                           "(drift-compensated), Spearman's rank correlation",
              "command": "python bench/latency_designs.py " + shlex.join(sys.argv[1:]), "machine": machine.describe(),
              "note": args.note or "no note given: see load_average_1min and cpu_affinity",
              "seconds": round(time.time() - t0, 1)}
    (ROOT / "results" / f"latency_designs_{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
