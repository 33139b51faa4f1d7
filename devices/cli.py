"""``ofa device list | show | check | measure``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ofa.cli.common import handle_errors, out, print_json, print_table

device_app = typer.Typer(help="Declare, list and check measurement devices.", no_args_is_help=True)


@device_app.command("list")
@handle_errors
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the devices in the catalog (built-in, ~/.config/ofa/devices, $OFA_DEVICES)."""
    from devices.catalog import list_devices

    rows = [d.summary() for d in list_devices()]
    print_json(rows) if as_json else print_table(
        "devices (example = template, not checked here)", rows, ["name", "transport", "runner", "threads", "precision", "example"])


@device_app.command("show")
@handle_errors
def show_cmd(name: str = typer.Argument(..., help="Device name or YAML file.")) -> None:
    """Print a device's full declaration."""
    from devices.catalog import get_device

    print_json(get_device(name).model_dump(mode="json"))


@device_app.command("check")
@handle_errors
def check_cmd(name: str = typer.Argument(..., help="Device name or YAML file."),
              as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Connect, push and time a tiny model; print its latency and the device fingerprint."""
    from devices.check import check_device
    from latency.int8 import write_in_precision

    report = check_device(name, write_in_precision)
    if as_json:
        print_json(report)
        return
    out.print(f"[green]ok[/green] {report['device']}: {report['model']} "
              f"{report['latency_ms']:.3f} ± {report['std_ms']:.3f} ms (n={report['count']}, check took {report['check_seconds']} s)")
    print_table("fingerprint", [{"field": k, "value": v} for k, v in report["fingerprint"].items()])


@device_app.command("measure")
@handle_errors
def measure_cmd(name: str = typer.Argument(..., help="Device name or YAML file."),
                space: str = typer.Option(..., "--space", help="Search space id or file."),
                n: int = typer.Option(20, "--n", min=1, help="Sub-networks to time (the smallest and largest first)."),
                design: str = typer.Option("d-optimal", help="Which networks: d-optimal (each where the latency fit is "
                                           "least determined) or stratified (resolution x depth x MACs cells)."),
                out_file: Path = typer.Option(..., "--out", help="Measurement CSV (re-run to resume)."),
                resolutions: Optional[str] = typer.Option(None, help="Comma-separated resolutions (default: all)."),
                stat: Optional[str] = typer.Option(None, help="Statistic to record as latency_ms: median, mean, p90... "
                                                   "(default: the device's latency_stat)."),
                num_classes: int = typer.Option(1000, min=1, help="Classifier outputs of the timed networks."),
                seed: int = typer.Option(0, help="Sampling seed.")) -> None:
    """Time N sampled sub-networks end to end on a device, for `ofa latency fit` (resumable)."""
    from latency.cli import _Bar, _resolutions
    from latency.measure import measure_to_file
    from ofa.cli.common import progress
    from ofa.spaces import get_space

    space_obj = get_space(space)
    with progress() as bar:
        rows = measure_to_file(name, space_obj, n, out_file, _resolutions(resolutions, space), seed, num_classes, stat,
                               _Bar(bar, "end-to-end networks"), design)
    latency = [float(r["latency_ms"]) for r in rows]
    out.print(f"{len(rows)} networks in {out_file} ({rows[0]['statistic']} {min(latency):.3g}-{max(latency):.3g} ms); "
              f"next: ofa latency fit {out_file} --space {space} --out DIR")


def register(app: typer.Typer) -> None:
    app.add_typer(device_app, name="device")
