"""``ofa acc build``, ``ofa search`` and ``ofa proxy score|report``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ofa.cli.common import console, handle_errors, out, print_json, print_table, progress
from ofa.errors import InfeasibleError

acc_app = typer.Typer(help="Accuracy tables and predictors.", no_args_is_help=True)
proxy_app = typer.Typer(help="Zero-cost proxies of sub-networks, against FLOPs, params and measured accuracy.",
                        no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(acc_app, name="acc")
    app.add_typer(proxy_app, name="proxy")
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

    net = load_supernet(supernet)  # an OFA-ResNet supernet too (its sub-networks: the official d/e/w/r selection)
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
    if manifest.get("family") == "resnet":  # OFA-ResNet: the evolution over its d/e/w/r gene matrix
        from ofa.resnet_artifacts import resnet_space

        space = resnet_space(manifest["space"])
    else:
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
    json_rows = [row.to_json() for row in rows]
    if out_dir:
        json_rows = write_results(out_dir, rows, history_frame(problem, histories) if histories else None,
                                  {"population": population, "generations": generations, "seed": seed,
                                   "strategy": strategy, "evaluations": evaluations, "flops_m": flops_m,
                                   "params_m": params_m, "devices": device, "latency_ms": latency_ms,
                                   "pareto": pareto_front})
    if as_json:
        print_json(json_rows)
    else:
        _print_rows(rows)
    if rows and not any(getattr(r, "feasible", True) for r in rows):
        console.print("[red]no budget could be met[/red]; see the smallest reachable latency above")
        raise typer.Exit(InfeasibleError.exit_code)


def _print_rows(rows: list) -> None:
    """One table line per :class:`~ofa.search.result.SearchOutcome` (or Pareto :class:`Candidate`)."""
    from ofa.search.result import SearchOutcome

    table = []
    for r in rows:
        if isinstance(r, SearchOutcome) and not r.feasible:
            low = r.min_latency_ms if r.min_latency_ms is not None else float("nan")
            table.append({"device": r.device, "budget_ms": r.latency_budget_ms, "arch": "INFEASIBLE",
                          "latency_ms": f"min reachable {low:.3g}"})
            continue
        cand, seconds = (r.best, r.search_seconds or 0) if isinstance(r, SearchOutcome) else (r, 0)
        device = r.device
        lat = cand.latency_ms.get(device or "")
        table.append({"device": device, "budget_ms": r.latency_budget_ms, "arch": cand.arch,
                      "pred_top1": round(100 * cand.predicted_top1, 2),
                      "latency_ms": f"{lat.mean:.3g} ± {lat.std:.2g}" if lat else "",
                      "mflops": round(cand.mflops, 1), "params_m": round(cand.params_m, 3),
                      "seconds": round(seconds, 2)})
    print_table("search results", table)


@proxy_app.command("score")
@handle_errors
def proxy_score(
    supernet: Path = typer.Option(..., help="Supernet directory."),
    out_file: Path = typer.Option(..., "--out", help="Table to write (.csv or .jsonl); re-run to resume."),
    n: Optional[int] = typer.Option(None, "--n", help="Sub-networks: sampled as `ofa acc build` does (default 100), "
                                    "or the first N rows of --acc (default: all)."),
    acc: Optional[Path] = typer.Option(None, help="An `ofa acc build` directory: score exactly its sub-networks and "
                                       "report each proxy's rank correlation with their measured top-1."),
    data: str = typer.Option("builtin", help="Images for the proxies: builtin, cifar10 or an ImageFolder path."),
    proxies: str = typer.Option("synflow,naswot,grad_norm,zico,meco", help="Comma-separated proxies."),
    batches: int = typer.Option(2, help="Proxy batches (ZiCo needs 2)."),
    batch_size: int = typer.Option(64, help="Images per proxy batch."),
    seed: int = typer.Option(0, help="Seed of the sampled sub-networks and the proxy images."),
) -> None:
    """Score sub-networks with zero-cost proxies (SynFlow, NASWOT, grad-norm, ZiCo, MeCo) into a table."""
    from ofa.artifacts import load_supernet
    from ofa.data import open_dataset
    from ofa.search.proxies.table import ProxySettings, candidates, check_out, score_table, supernet_weights_hash

    settings = ProxySettings(tuple(p.strip() for p in proxies.split(",") if p.strip()), batches, batch_size, seed)
    check_out(out_file)
    net = load_supernet(supernet, search_space_only=True)
    weights = supernet_weights_hash(supernet)
    items = candidates(net, n if n is not None or acc is not None else 100, seed, acc, weights)
    provenance = {"supernet_sha256": weights, "data": data, "acc": str(acc) if acc else None}
    with progress() as bar:
        task = bar.add_task("sub-networks", total=len(items))
        table = score_table(net, lambda: open_dataset(data), out_file, items, settings, provenance,
                            on_row=lambda done, total: bar.update(task, completed=done))
    out.print(f"{len(table)} sub-networks scored -> {out_file}")
    if acc is not None:
        _print_correlations(out_file, table)


@proxy_app.command("report")
@handle_errors
def proxy_report(table_file: Path = typer.Argument(..., help="A table from `ofa proxy score --acc`."),
                 as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each proxy's Kendall tau and Spearman rho against measured top-1, next to FLOPs and params."""
    from ofa.search.proxies.report import correlations
    from ofa.search.proxies.table import read_table

    rows = correlations(read_table(table_file))
    if as_json:
        print_json(rows)
    else:
        _print_correlations(table_file, None, rows)


def _print_correlations(table_file: Path, table, rows: Optional[list] = None) -> None:
    from ofa.search.proxies.report import correlations

    rows = rows if rows is not None else correlations(table)
    print_table(f"rank correlation with measured top-1 ({table_file})", rows,
                ["score", "kendall_tau", "kendall_p", "spearman_rho", "seconds_per_net"])
