"""``ofa zoo``, ``ofa demo`` and ``ofa verify``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from ofa.cli.common import console, handle_errors, out, print_table


def register(app: typer.Typer) -> None:
    app.command("zoo")(zoo_cmd)
    app.command("demo")(demo_cmd)
    app.command("verify")(verify_cmd)


@handle_errors
def zoo_cmd(config: Optional[Path] = typer.Option(None, "--config", help="zoo.yaml (default: the embedded demo zoo)."),
            out_dir: Path = typer.Option(..., "--out", help="Zoo directory; re-running reuses what exists.")) -> None:
    """Build a verified, device-specific model zoo: supernet, LUTs, predictor, search, exports, report."""
    _run(config, out_dir)


@handle_errors
def demo_cmd(out_dir: Path = typer.Option(Path("runs/demo"), "--out", help="Where the demo zoo goes.")) -> None:
    """The main job on the embedded default: train on built-in digits, profile this CPU, build the zoo."""
    _run(None, out_dir)


def _run(config_path: Optional[Path], out_dir: Path) -> None:
    from ofa.zoo.config import load_zoo_config
    from ofa.zoo.pipeline import ZooBuilder

    config = load_zoo_config(config_path)
    start = time.perf_counter()
    with console.status("building the zoo") as spinner:
        result = ZooBuilder(config, out_dir, status=lambda msg: (spinner.update(msg), console.log(msg))).run()
    rows = [{"device": r.device, "budget ms": r.budget_ms, "stat": r.stat or "-", "status": r.status,
             "top1": _num(r.top1), "pred. top1": _num(r.predicted_top1), "pred. ms": _num(r.latency_predicted_ms),
             "measured ms": _num(r.latency_measured_ms), "rounds": r.rounds or "-", "MFLOPs": _num(r.mflops, 1)}
            for r in result["rows"]]
    print_table(f"zoo {out_dir}", rows)
    out.print(f"report: {out_dir / 'report.html'}   index: {out_dir / 'index.csv'}   "
              f"({time.perf_counter() - start:.0f} s)")


@handle_errors
def verify_cmd(path: Path = typer.Argument(..., help="A supernet, sub-network, LUT or zoo entry directory.")) -> None:
    """Check an artifact: file hashes, tensor names and shapes (by a strict load), table completeness."""
    from ofa.zoo.verify import verify_artifact

    result = verify_artifact(path)
    out.print(f"OK {path} ({result.kind})", highlight=False)
    for check in result.checks:
        out.print(f"  {check}", highlight=False, soft_wrap=True)


def _num(value, digits: int = 3):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else round(number, digits)
