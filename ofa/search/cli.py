"""``ofa acc build`` and ``ofa search``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ofa.cli.common import console, handle_errors, out, print_json, print_table, progress
from ofa.errors import InfeasibleError

acc_app = typer.Typer(help="Accuracy tables and predictors.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(acc_app, name="acc")
    app.command("search")(handle_errors(search_cmd))


@acc_app.command("build")
@handle_errors
def acc_build(
    supernet: Path = typer.Option(..., help="Trained supernet directory."),
    data: str = typer.Option("builtin", help="Dataset: builtin, cifar10 or an ImageFolder path (val split is held out)."),
    samples: int = typer.Option(300, min=5, help="Sub-networks to measure."),
    out_dir: Path = typer.Option(..., "--out", help="Output directory (table + predictor); re-run to resume."),
    calib_images: int = typer.Option(500, help="BN recalibration images per sub-network."),
    seed: int = typer.Option(0),
    epochs: int = typer.Option(400, help="Predictor training epochs (full batch)."),
) -> None:
    """Measure sampled sub-networks (BN-recalibrated) and fit the accuracy predictor."""
    from ofa.artifacts import load_supernet
    from ofa.data import open_dataset
    from ofa.io import sha256_file
    from ofa.locks import directory_lock
    from ofa.search.acc_predictor import fit_and_evaluate
    from ofa.search.accuracy_table import ACC_LOCK_WHY, build_accuracy_table

    net = load_supernet(supernet)
    source = open_dataset(data)
    with directory_lock(out_dir, "acc", ACC_LOCK_WHY), progress() as bar:  # table and predictor: one writer
        task = bar.add_task("sub-networks", total=samples)
        table = build_accuracy_table(net, source, out_dir, samples, sha256_file(supernet / "weights.safetensors"), seed,
                                     calib_images, on_row=lambda done, total: bar.update(task, completed=done))
        predictor = fit_and_evaluate(net.space, table, seed=seed, epochs=epochs)
        predictor.save(out_dir)
    per_minute = 60 / table["eval_s"].mean()
    out.print(f"{len(table)} sub-networks measured ({per_minute:.0f} per minute); predictor saved in {out_dir}")
    report = predictor.report
    rows = [{"predictor": f"MLP, {c['n_train']} rows", **c} for c in report["curve"]]
    rows.append({"predictor": "FLOPs rank (baseline)", **report["flops_baseline"]})
    print_table("held-out accuracy prediction", rows, ["predictor", "rmse_pct", "kendall_tau", "spearman"])


def search_cmd(
    supernet: Path = typer.Option(..., help="Supernet directory (space and classes)."),
    acc_predictor: Path = typer.Option(..., help="Directory from `ofa acc build`."),
    device: List[str] = typer.Option([], help="A device's latency table (`ofa lut build`) or fitted predictor "
                                     "(`ofa latency fit`) directory (repeatable)."),
    latency_ms: List[float] = typer.Option([], help="Latency budget(s) in ms, applied to every --device (repeatable)."),
    flops_m: Optional[float] = typer.Option(None, help="Cap on MFLOPs (MACs)."),
    params_m: Optional[float] = typer.Option(None, help="Cap on parameters (millions)."),
    pareto_front: bool = typer.Option(False, "--pareto", help="Accuracy/latency Pareto front per device instead."),
    population: int = typer.Option(100), generations: int = typer.Option(500), seed: int = typer.Option(0),
    strategy: str = typer.Option("evolution", help="evolution (OFA's), aging, random, reinforce, bayesian (Optuna TPE) "
                                 "or nsga2; see docs/search.md."),
    evaluations: Optional[int] = typer.Option(None, help="Predictor evaluations per search (default: population x "
                                              "(generations + 1), evolution's budget)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Write search_result.json, subnets/*.json, history.csv."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Best sub-network under latency/FLOPs/params budgets on each device, or Pareto fronts."""
    from ofa.artifacts import read_manifest
    from ofa.errors import ConfigError
    from ofa.search.acc_predictor import AccuracyPredictor
    from ofa.search.api import SearchProblem, history_frame, pareto, search_many, write_results
    from ofa.search.evolution import EvolutionSettings
    from ofa.search.latency_costs import load_latency_cost
    from ofa.search.strategies import STRATEGIES
    from ofa.spaces import SearchSpace

    if strategy not in STRATEGIES:
        raise ConfigError(f"--strategy {strategy!r} is not one of {list(STRATEGIES)}")
    if evaluations is not None and evaluations < 1:
        raise ConfigError(f"--evaluations must be at least 1, got {evaluations}")
    manifest = read_manifest(supernet, "supernet")
    space = SearchSpace.from_dict(manifest["space"])
    predictor = AccuracyPredictor.load(acc_predictor)
    costs = {}
    for spec in device:
        name, cost = load_latency_cost(spec, space)
        costs[name] = cost
    problem = SearchProblem(space, predictor, int(manifest["num_classes"]), costs, flops_m, params_m)
    settings = EvolutionSettings(population=population, generations=generations, seed=seed)
    bad = [b for b in latency_ms if not (b > 0 and b != float("inf"))]
    if bad:
        raise ConfigError(f"--latency-ms must be positive, finite milliseconds; got {bad}")
    if latency_ms and not costs:
        raise ConfigError("--latency-ms needs at least one --device (a latency table directory from `ofa lut build`, or "
                          "a predictor directory from `ofa latency fit`)")
    if pareto_front:
        if not costs:
            raise ConfigError("--pareto needs at least one --device")
        rows = [row for name in costs for row in pareto(problem, name, settings, max(latency_ms) if latency_ms else None)]
        histories = {}
    else:
        budgets = {name: list(latency_ms) or [None] for name in costs} or {None: [None]}
        with progress() as bar:
            task = bar.add_task("searches", total=sum(map(len, budgets.values())))
            rows, histories = search_many(problem, budgets, settings, on_done=lambda _: bar.advance(task),
                                          strategy=strategy, evaluations=evaluations)
    if out_dir:
        write_results(out_dir, rows, history_frame(problem, histories) if histories else None,
                      {"population": population, "generations": generations, "seed": seed, "strategy": strategy,
                       "evaluations": evaluations, "flops_m": flops_m,
                       "params_m": params_m, "devices": device, "latency_ms": latency_ms, "pareto": pareto_front})
    if as_json:
        print_json(rows)
    else:
        _print_rows(rows)
    if rows and not any(r.get("feasible", True) for r in rows):
        console.print("[red]no budget could be met[/red]; see the smallest reachable latency above")
        raise typer.Exit(InfeasibleError.exit_code)


def _print_rows(rows: list[dict]) -> None:
    table = []
    for r in rows:
        if not r.get("feasible", True):
            table.append({"device": r["device"], "budget_ms": r["latency_budget_ms"], "arch": "INFEASIBLE",
                          "latency_ms": f"min reachable {r.get('min_latency_ms', float('nan')):.3g}"})
            continue
        lat = r["latency_ms"].get(r.get("device") or "", None)
        table.append({"device": r.get("device"), "budget_ms": r.get("latency_budget_ms"), "arch": r["arch"],
                      "pred_top1": round(100 * r["predicted_top1"], 2),
                      "latency_ms": f"{lat['mean']:.3g} ± {lat['std']:.2g}" if lat else "",
                      "mflops": round(r["mflops"], 1), "params_m": round(r["params_m"], 3),
                      "seconds": round(r.get("search_seconds", 0), 2)})
    print_table("search results", table)
