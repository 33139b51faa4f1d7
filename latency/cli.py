"""``ofa lut build | show | validate | predict | import-ofa`` and ``ofa latency fit | predict | score | show``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ofa.cli.common import console, handle_errors, out, print_json, print_table, progress

DEFAULT_CLASSES = 1000

lut_app = typer.Typer(help="Latency lookup tables: build on a device, inspect, validate, import OFA's.",
                      no_args_is_help=True)


def _resolutions(text: Optional[str], space_id: str) -> list[int]:
    from latency.resnet_blocks import lut_space
    from ofa.errors import ConfigError

    space = lut_space(space_id)
    if not text:
        return list(space.resolutions)
    try:
        return sorted({int(v) for v in text.replace(",", " ").split()})
    except ValueError:
        raise ConfigError(f"--resolutions must be integers like 160,176,192, got {text!r}") from None


def head_note(num_classes: Optional[int]) -> str:
    """Which classifier head the table times, and how to change it (a wrong-sized head mis-times it)."""
    if num_classes is None:
        return (f"timing the classifier head with {DEFAULT_CLASSES} outputs (the ImageNet default); a model with "
                "another number of classes has another head: pass --num-classes N (e.g. 10 for CIFAR-10) "
                "with a fresh --out")
    return f"timing the classifier head with {num_classes} outputs (--num-classes)"


class _Bar:
    """Adapts ``on_progress(done, total)`` callbacks to a rich progress task."""

    def __init__(self, bar, label: str):
        self.bar, self.task = bar, bar.add_task(label, total=None)

    def __call__(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)


@lut_app.command("build")
@handle_errors
def build_cmd(device: str = typer.Option(..., "--device", help="Device name or YAML file (see `ofa device list`)."),
              space: str = typer.Option(..., "--space", help="Search space id (see `ofa space list`; also "
                                        "ofa_resnet50) or a JSON/YAML space file (a ResNet one: ResNetSpace fields)."),
              out_dir: Path = typer.Option(..., "--out", help="Table directory (re-run to resume)."),
              resolutions: Optional[str] = typer.Option(None, help="Comma-separated resolutions (default: all of the space)."),
              calibrate: int = typer.Option(20, help="Sub-networks to measure end to end for the calibrated sum (0: none)."),
              num_classes: Optional[int] = typer.Option(None, min=1, help=f"Classifier outputs of the timed head "
                                                        f"(default {DEFAULT_CLASSES}, ImageNet; e.g. 10 for CIFAR-10)."),
              chunk: int = typer.Option(16, help="Blocks per device round trip (and per save)."),
              calib_data: str = typer.Option("builtin", "--calib-data", help="int8 devices: dataset whose training "
                                             "images calibrate the int8 micro-models (builtin, cifar10, a folder)."),
              calib_images: int = typer.Option(16, "--calib-images", min=1, help="int8 devices: calibration images "
                                               "per micro-model.")) -> None:
    """Time every block of SPACE on DEVICE into a table (resumable). An int8 device (runner precision int8,
    e.g. local-ort-cpu-int8) times int8 micro-models calibrated on --calib-data."""
    from devices.session import DeviceSession
    from latency.api import calibrate as run_calibration
    from latency.int8 import Int8Calibration
    from latency.lock import lut_lock
    from latency.profile import build_lut, default_convert_workers

    res = _resolutions(resolutions, space)
    console.print(head_note(num_classes), highlight=False, soft_wrap=True)
    num_classes = num_classes or DEFAULT_CLASSES
    # one writer for build + calibration; a second run into the same --out is refused before it measures
    with lut_lock(out_dir), DeviceSession(device) as session, progress() as bar:
        table = build_lut(device, space, res, out_dir, num_classes, chunk, _Bar(bar, "profiling blocks"), session,
                          default_convert_workers(), Int8Calibration(calib_data, calib_images))
        if calibrate:
            run_calibration(out_dir, n=calibrate, on_progress=_Bar(bar, "calibration networks"), session=session)
    out.print(f"wrote {out_dir}: {len(table.frame)} blocks of {table.space_id} at {table.resolutions} on {session.spec.name}")


@lut_app.command("show")
@handle_errors
def show_cmd(lut_dir: Path = typer.Argument(..., help="Table directory."),
             top: int = typer.Option(10, help="Show the N slowest blocks."),
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Summarise a table: device fingerprint, coverage, slowest blocks, last validation."""
    from latency.table import REPORT_FILE, LatencyTable

    table = LatencyTable.load(lut_dir)
    frame = table.frame.assign(**{table.stat: table.column(table.frame)})
    slow = frame.sort_values(table.stat, ascending=False).head(top)
    cols = list(dict.fromkeys(["resolution", "key", table.stat, "median_ms", "mean_ms", "std_ms", "count"]))
    rows = slow[cols].to_dict("records")
    report = lut_dir / REPORT_FILE
    validation = __import__("json").loads(report.read_text())["predictors"] if report.is_file() else None
    if as_json:
        print_json({"summary": table.summary(), "slowest": rows, "validation": validation})
        return
    print_table("latency table", [{"field": k, "value": v} for k, v in table.summary().items()])
    print_table(f"{top} slowest blocks (ms)", rows)
    if validation:
        _print_metrics(validation)


def _print_metrics(predictors: dict) -> None:
    cols = ["predictor", "within_5pct", "within_10pct", "rmse_ms", "rmse_pct", "spearman", "kendall"]
    print_table("validation (end-to-end)", [{"predictor": name} | m for name, m in predictors.items()], cols)


@lut_app.command("validate")
@handle_errors
def validate_cmd(lut_dir: Path = typer.Argument(..., help="Table directory."),
                 device: Optional[str] = typer.Option(None, "--device", help="Device (default: the table's)."),
                 n: int = typer.Option(100, "--n", help="Sub-networks to measure end to end."),
                 seed: int = typer.Option(1, help="Sampling seed (calibration uses 0)."),
                 as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Measure N sub-networks end to end and report accuracy of every predictor (saved beside the table)."""
    from latency.validate import validate_lut

    with progress() as bar:
        report = validate_lut(lut_dir, device, n, seed, _Bar(bar, "end-to-end networks"))
    if as_json:
        print_json(report)
    else:
        _print_metrics(report["predictors"])
        drift = report.get("drift", {})
        if drift.get("anchor"):
            ratio = drift["anchor_over_ref"]
            out.print(f"statistic {report['stat']}; device drift during validation (anchor / its quietest timing): "
                      f"median {ratio['median']:.2f}, max {ratio['max']:.2f}")
        out.print(f"report saved to {lut_dir / 'validation.json'}")


@lut_app.command("predict")
@handle_errors
def predict_cmd(lut_dir: Path = typer.Argument(..., help="Table directory (or fitted predictor directory)."),
                subnet: Path = typer.Option(..., "--subnet", help="Sub-network config JSON."),
                predictor: str = typer.Option("auto", help="auto | block_sum | calibrated_sum | fitted_e2e "
                                              "(a directory from `ofa latency fit`: auto | fitted).")) -> None:
    """Predict one sub-network's latency from a table (or a fitted predictor)."""
    from latency.api import load_predictor
    from ofa.spaces import SearchSpace
    from ofa.subnet import SubnetConfig

    model = load_predictor(lut_dir, predictor)
    if isinstance(model.space, SearchSpace):
        cfg = SubnetConfig.load(subnet, model.space)
    else:  # an OFA-ResNet table: the official d/e/w/r selection
        from ofa.resnet_artifacts import read_resnet_config

        cfg = read_resnet_config(subnet, model.space)
    mean, std = model.predict(cfg)[0]
    print_json({"predictor": model.name, "latency_ms": mean, "std_ms": std})


@lut_app.command("import-ofa")
@handle_errors
def import_cmd(src: Path = typer.Argument(..., help="Directory of OFA <res>_lookup_table.yaml files."),
               out_dir: Path = typer.Option(..., "--out", help="Table directory to write."),
               space: str = typer.Option("ofa_mbv3_d234_e346_k357_w1.2", help="Space the tables were made for."),
               name: Optional[str] = typer.Option(None, help="Device name (default: the directory name).")) -> None:
    """Import OFA-format YAML tables (e.g. OFA's Note10) as a latency table."""
    from latency.ofa_import import import_ofa_tables

    table = import_ofa_tables(src, out_dir, space, name)
    out.print(f"imported {len(table.frame)} blocks at {table.resolutions} -> {out_dir}")


latency_app = typer.Typer(help="Latency predictors fitted from end-to-end measurements (no table needed).",
                          no_args_is_help=True)


@latency_app.command("fit")
@handle_errors
def fit_cmd(measurements: list[Path] = typer.Argument(..., help="CSV/JSONL measurement files (`ofa device measure`, "
                                                      "a device farm, trtexec/benchmark_model logs listed in a CSV)."),
            space: str = typer.Option(..., "--space", help="Search space id or file the networks belong to."),
            out_dir: Path = typer.Option(..., "--out", help="Predictor directory to write."),
            families: str = typer.Option("analytic,detailed,kernel_stride,onehot,rich", help="Candidate model "
                                         "families, chosen among by cross-validation: analytic, detailed, "
                                         "kernel_stride, onehot, rich, reference."),
            reference_lut: Optional[Path] = typer.Option(None, help="A profiled device's table of the same space: "
                                                         "adds family 'reference' (its block sums as a feature)."),
            num_classes: Optional[int] = typer.Option(None, min=1, help="Classifier outputs of the measured networks "
                                                      "(default: the files' num_classes, else 1000)."),
            device: Optional[str] = typer.Option(None, help="Device name to record (default: the files')."),
            seed: int = typer.Option(0, help="Seed of the cross-validation folds."),
            drift: bool = typer.Option(True, "--drift-compensation/--no-drift-compensation",
                                       help="Rescale rows that carry a drift-anchor timing (anchor_ms, written by "
                                       "`ofa device measure`) to the device's typical state."),
            as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Fit a latency predictor from measured sub-networks; the family is chosen by cross-validation."""
    from latency.fit import fit_predictor
    from latency.measurements import read_measurements
    from ofa.spaces import get_space

    space_obj = get_space(space)
    data = read_measurements(measurements, space_obj, drift)
    names = [f.strip() for f in families.split(",") if f.strip()]
    reference = _reference_values(reference_lut, space_obj.id, names)
    model, report = fit_predictor(data, space_obj, out_dir, names, seed, num_classes, device, reference)
    if as_json:
        print_json(report)
        return
    rows = [{"family": name + (" (chosen)" if name == report["chosen"] else ""), **m}
            for name, m in report["families"].items()]
    print_table(f"cross-validated on {report['n']} networks ({report['statistic']})", rows,
                ["family", "within_5pct", "within_10pct", "rmse_pct", "spearman", "kendall", "valid"])
    out.print(f"wrote {out_dir}: family {report['chosen']}, resolutions {report['resolutions']}, "
              f"spread +-{100 * model.rel_std:.1f} % (68th percentile of the out-of-fold errors)")


def _reference_values(path: Optional[Path], space_id: str, families: list[str]):
    from ofa.errors import ConfigError

    if path is None:
        return None
    from latency.table import LatencyTable

    table = LatencyTable.load(path)
    if table.space_id != space_id:
        raise ConfigError(f"--reference-lut {path} is for space {table.space_id}, the measurements for {space_id}")
    if "reference" not in families:
        families.append("reference")
    return {ident: value for ident, value in table.values().items()}


@latency_app.command("predict")
@handle_errors
def latency_predict_cmd(predictor_dir: Path = typer.Argument(..., help="Directory from `ofa latency fit`."),
                        subnet: Path = typer.Option(..., "--subnet", help="Sub-network config JSON.")) -> None:
    """Predict one sub-network's latency (with its spread) from a fitted predictor."""
    from latency.api import load_predictor
    from ofa.subnet import SubnetConfig

    model = load_predictor(predictor_dir, "fitted")
    mean, std = model.predict(SubnetConfig.load(subnet, model.space))[0]
    print_json({"predictor": model.name, "statistic": model.manifest["statistic"], "latency_ms": mean, "std_ms": std})


@latency_app.command("score")
@handle_errors
def score_cmd(predictor_dir: Path = typer.Argument(..., help="A fitted predictor or a latency table directory."),
              measurements: list[Path] = typer.Argument(..., help="Held-out CSV/JSONL measurement files."),
              out_file: Optional[Path] = typer.Option(None, "--out", help="Also write the report as JSON here."),
              drift: bool = typer.Option(True, "--drift-compensation/--no-drift-compensation",
                                         help="Rescale rows with a drift-anchor timing to the state the predictor "
                                         "was fitted in (its drift_reference_ms; else the rows' median)."),
              as_json: bool = typer.Option(False, "--json", help="Print the report as JSON.")) -> None:
    """Score a predictor on held-out measurements: share within +-5/10 %, RMSE, Spearman, Kendall."""
    from latency.api import load_predictor
    from latency.fit import score_predictor
    from latency.measurements import read_measurements
    from ofa.io import atomic_write_json

    model = load_predictor(predictor_dir)
    reference = getattr(model, "manifest", {}).get("drift_reference_ms")  # compare in the state it was fitted in
    report = score_predictor(model, read_measurements(measurements, model.space, drift, reference)) | {
        "predictor_dir": str(predictor_dir), "measurements": [str(m) for m in measurements]}
    if out_file:
        atomic_write_json(out_file, report)
    if as_json:
        print_json(report)
    else:
        _print_metrics({model.name: report})


@latency_app.command("show")
@handle_errors
def latency_show_cmd(predictor_dir: Path = typer.Argument(..., help="Directory from `ofa latency fit`.")) -> None:
    """Print a fitted predictor's manifest: space, statistic, family, cross-validated scores, spread."""
    from latency.fitted import FittedLatencyPredictor

    model = FittedLatencyPredictor.load(predictor_dir)
    keys = ("space", "resolutions", "statistic", "family", "n_measurements", "device", "cv", "uncertainty", "created")
    print_json({k: model.manifest.get(k) for k in keys})


def register(app: typer.Typer) -> None:
    app.add_typer(lut_app, name="lut")
    app.add_typer(latency_app, name="latency")
