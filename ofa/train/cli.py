"""``ofa train``: the command-line face of :mod:`ofa.train` (heavy imports happen inside the command)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ofa.cli.common import handle_errors


def register(app: typer.Typer) -> None:
    app.command("train")(handle_errors(train_command))


def train_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Run directory to create (checkpoints, metrics, validation, supernet/)."),
    space: Optional[str] = typer.Option(None, "--space", help="Search space id or JSON/YAML file (see `ofa space list`)."),
    data: Optional[str] = typer.Option(None, "--data", help="'builtin', 'cifar10', an ImageFolder directory or a .tar.gz of one."),
    config: Optional[Path] = typer.Option(None, "--config", help="YAML training config (schedule, optimizer, loss, ...)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="Built-in config preset, applied before --config (e.g. 'smoke')."),
    init: Optional[str] = typer.Option(None, "--init", help="Start from this supernet directory or official OFA checkpoint "
                                       "(.pth); a dataset with other classes gets a new head (transfer)."),
    freeze_stages: Optional[int] = typer.Option(None, "--freeze-stages", min=0, help="Freeze the stem, first block and this "
                                                "many elastic stages (OFA-ResNet: the input stem and this many stages) "
                                                "during the first schedule stage."),
    overrides: List[str] = typer.Option([], "--set", help="Override one key: --set batch_size=32 --set schedule.kernel.lr=0.01"),
    resume_dir: Optional[Path] = typer.Option(None, "--resume", help="Continue the run in this directory from its last checkpoint."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config as YAML and exit."),
) -> None:
    """Train an elastic supernet with progressive shrinking (full network, then kernel, depth, expand).

    Multi-process: torchrun --nproc-per-node N -m ofa.cli.main train ... (NCCL on GPUs, gloo on CPUs).
    """
    import yaml

    from ofa.cli.common import console
    from ofa.cli.common import out as stdout
    from ofa.errors import ConfigError
    from ofa.train import load_config, resume, train

    reporter = RichReporter() if console.is_terminal else None
    if resume_dir is not None:
        if any(v is not None for v in (out, space, data, config, preset, init, freeze_stages)):
            raise ConfigError("--resume RUN_DIR continues a run with its saved config; drop --out/--space/--data/--config/"
                              "--preset/--init/--freeze-stages (only --set of resume-safe keys is allowed)")
        result = resume(resume_dir, tuple(overrides), reporter)
    else:
        if init is not None and preset is None and config is None:  # the transfer recipe, unless the user brings their own
            from ofa.train.transfer import init_is_resnet

            preset = "transfer-resnet" if init_is_resnet(init) else "transfer"
        if freeze_stages is not None:
            overrides = [*overrides, f"schedule.0.freeze_stages={freeze_stages}"]
        cfg = load_config(preset, config, {"space": space, "data": data, "init": init}, tuple(overrides))
        if print_config:
            stdout.print(yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None), highlight=False)
            return
        if out is None:
            raise ConfigError("give the run directory with --out RUN_DIR (or --resume RUN_DIR to continue one)")
        result = train(cfg, out, reporter)
    if _is_main():
        _print_summary(result)


def _is_main() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


def _print_summary(result) -> None:
    from ofa.cli.common import out, print_table

    last = result.validation[-1]["stage"] if result.validation else None
    rows = [r for r in result.validation if r["stage"] == last]
    print_table(f"reference sub-networks after stage {last}", rows, ["subnet", "arch", "r", "mflops", "top1"])
    out.print(f"supernet: {result.run_dir / 'supernet'}  ({result.global_step} steps)")


class RichReporter:
    """A rich progress bar per stage (bar, count, elapsed, ETA) with the latest loss and accuracy."""

    def __init__(self) -> None:
        from ofa.cli.common import progress

        self.progress = progress()
        self.task = None

    def start_stage(self, name: str, index: int, n_stages: int, total: int, done: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task(f"{index + 1}/{n_stages} {name}", total=total, completed=done)

    def advance(self, done: int, record: dict | None) -> None:
        extra = {}
        if record is not None:
            stage = self.progress.tasks[-1].description.split(" loss")[0]
            extra["description"] = f"{stage} loss {record['loss']:.3f} acc {record['acc']:.2f}"
        self.progress.update(self.task, completed=done, **extra)

    def end_stage(self) -> None:
        self.progress.stop()
