"""Shared CLI plumbing: typed-error handling, logging set-up, rich console and progress bars."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from typing import Any, Callable

import typer
import typer.exceptions
from rich.console import Console
from rich.table import Table

from ofa.errors import OFAError

console = Console(stderr=True)
out = Console()


#: set by ``ofa --debug`` (or the environment variable ``OFA_DEBUG=1``): show tracebacks
DEBUG = {"on": bool(os.environ.get("OFA_DEBUG"))}


def handle_errors(func: Callable) -> Callable:
    """Print :class:`OFAError` as one red line (no traceback) and exit with its class's code.

    Anything else is a bug: one line naming it and exit code 1. ``--debug`` re-raises both, with the
    traceback. Every command is wrapped (``tests/test_cli_contract.py`` walks the command tree)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # typer.Exit and usage errors carry their own code and message
        except OFAError as exc:
            console.print(f"[bold red]error:[/bold red] {exc}", highlight=False, soft_wrap=True)
            if DEBUG["on"]:
                raise
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow] (finished work is kept; re-run the command to resume)")
            raise typer.Exit(130) from None
        except Exception as exc:
            if DEBUG["on"]:
                raise
            console.print(f"[bold red]internal error:[/bold red] {type(exc).__name__}: {exc}\n"
                          "This is a bug in ofa-deploy, not in your input. Re-run with `ofa --debug ...` for the "
                          "traceback and report it.", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    wrapper.handles_ofa_errors = True  # type: ignore[attr-defined]
    return wrapper


def setup_logging(verbose: bool = False) -> None:
    from rich.logging import RichHandler

    level = logging.DEBUG if verbose else logging.INFO
    handler: logging.Handler
    if sys.stderr.isatty():
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        fmt = "%(message)s"
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    for name in ("ofa", "latency", "devices", "export"):
        logging.getLogger(name).setLevel(level)
    if not verbose:
        from ofa.quiet import silence_converter_logs

        silence_converter_logs()


def progress(transient: bool = False):
    """A rich progress display with bar, count, elapsed and ETA (plain when not a terminal)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("eta"), TimeRemainingColumn(), console=console, transient=transient,
                    disable=not console.is_terminal)


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    if not rows:
        out.print(f"{title}: (none)")
        return
    columns = columns or list(rows[0])
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*[_fmt(row.get(col)) for col in columns])
    out.print(table)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
