"""Long fuzz run of every file parser a user feeds (the targets of ``tests/fuzz_targets.py``).

The property is the CI one (``tests/test_bad_input_fuzz_files.py``): a mutated file parses, or raises an
``OFAError``. Here every example runs to the end instead of stopping at the first failure, so the result
counts, per target: examples tried, how many parsed, how many were refused with an ``OFAError`` (by
class), every other exception (type, count, first message), and the slowest example (a hang shows as
a large ``max_seconds``; ``--timeout`` fails the target when one example takes longer).

    .venv/bin/python bench/fuzz.py                       # 2,000 examples per target, ~15 min on 2 cores
    .venv/bin/python bench/fuzz.py --examples 200 --targets lut_csv,e2e_csv

Prints JSON and writes bench/results/fuzz.json (with the command that produced it).
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent / "tests"))
sys.path.insert(0, str(ROOT))
import machine  # noqa: E402

from fuzz_targets import TARGETS, TENSOR_TARGETS, mutations, run_case, sample, tensor_swaps  # noqa: E402
from ofa.errors import OFAError  # noqa: E402


def _where(exc: BaseException) -> str:
    """The innermost frame of this project's code in the traceback (file:line), where the fix belongs."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f.filename]
    frame = frames[-1] if frames else traceback.extract_tb(exc.__traceback__)[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} {frame.line}"


def fuzz_target(name: str, examples: int, rng_seed: int) -> dict:
    counts: collections.Counter = collections.Counter()
    others: dict[str, dict] = {}
    slowest = 0.0
    strategy = mutations(sample(name))
    if name in TENSOR_TARGETS:
        strategy = strategy | tensor_swaps(name)

    @seed(rng_seed)
    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=strategy)
    def run(data: bytes) -> None:
        nonlocal slowest
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            try:
                run_case(name, data, Path(work))
                counts["parsed"] += 1
            except OFAError as exc:
                counts[type(exc).__name__] += 1
            except Exception as exc:  # the finding: anything that is not an OFAError
                key = type(exc).__name__
                entry = others.setdefault(key, {"count": 0, "first": f"{exc}"[:300], "where": _where(exc),
                                                "input_head": data[:120].hex()})
                entry["count"] += 1
        slowest = max(slowest, time.perf_counter() - t0)

    t0 = time.perf_counter()
    run()
    tried = sum(counts.values()) + sum(e["count"] for e in others.values())
    return {"target": name, "examples": tried, "parsed": counts.pop("parsed", 0), "ofa_errors": dict(counts),
            "other_exceptions": others, "non_ofa_exceptions": sum(e["count"] for e in others.values()),
            "seconds": round(time.perf_counter() - t0, 1), "max_seconds": round(slowest, 3)}


def main() -> None:
    warnings.filterwarnings("ignore", message="Detected pickle protocol")  # torch, on mutated checkpoints
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per target")
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated, of: {', '.join(TARGETS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one example may take")
    parser.add_argument("--result", type=Path, default=ROOT / "results" / "fuzz.json")
    args = parser.parse_args()
    names = [n.strip() for n in args.targets.split(",") if n.strip()]
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        parser.error(f"unknown target(s) {unknown}; choose from {sorted(TARGETS)}")
    rows = []
    for name in names:
        rows.append(fuzz_target(name, args.examples, args.seed))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    report = {"bench": "fuzz", "command": "python bench/fuzz.py " + " ".join(sys.argv[1:]),
              "examples_per_target": args.examples, "seed": args.seed,
              "total_examples": sum(r["examples"] for r in rows),
              "total_non_ofa_exceptions": sum(r["non_ofa_exceptions"] for r in rows),
              "hangs": [r["target"] for r in rows if r["max_seconds"] > args.timeout],
              "targets": rows, "machine": machine.describe(), "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
