"""``ofa device list | show | check``."""

from __future__ import annotations

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

    report = check_device(name)
    if as_json:
        print_json(report)
        return
    out.print(f"[green]ok[/green] {report['device']}: {report['model']} "
              f"{report['latency_ms']:.3f} ± {report['std_ms']:.3f} ms (n={report['count']}, check took {report['check_seconds']} s)")
    print_table("fingerprint", [{"field": k, "value": v} for k, v in report["fingerprint"].items()])


def register(app: typer.Typer) -> None:
    app.add_typer(device_app, name="device")
