"""The zoo's reusable stages: each returns what exists on disk when its inputs did not change."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ofa.io import atomic_write_json
from ofa.zoo.config import ZooConfig
from ofa.zoo.keys import safe_name
from ofa.zoo.results import FrontPoint

log = logging.getLogger(__name__)


# ----- supernet -----------------------------------------------------------------------------------
def supernet_stage(config: ZooConfig, work: Path, status) -> Path:
    src = config.supernet
    _refuse_resnet(src.path or src.import_official)
    if src.transfer:
        return _trained(config, work / "transfer", status)
    if src.path:
        return Path(src.path)
    if src.import_official:
        return _imported(Path(src.import_official), work / "supernet", status)
    return _trained(config, work / "train", status)


def _refuse_resnet(given: "str | None") -> None:
    """The zoo's later stages (latency tables, search, export of MobileNetV3 blocks) do not take OFA-ResNet yet."""
    from ofa.errors import ArtifactError, ConfigError
    from ofa.train.transfer import init_is_resnet

    if not given or not Path(given).exists():
        return
    try:
        resnet = init_is_resnet(given)
    except ArtifactError:  # not a readable supernet or checkpoint: the stage that loads it says so
        return
    if resnet:
        raise ConfigError(f"supernet {given} is OFA-ResNet: the zoo takes MobileNetV3/ProxylessNAS supernets only. Run the "
                          "steps yourself: `ofa train --init` (transfer), `ofa lut build`, `ofa acc build`, `ofa search`, "
                          "`ofa extract`, `ofa export` (docs/official_spaces.md)")


def _imported(checkpoint: Path, out: Path, status) -> Path:
    from ofa.artifacts import ModelInfo, save_supernet
    from ofa.io import sha256_file
    from ofa.official import import_official

    digest = sha256_file(checkpoint)
    manifest = out / "manifest.json"
    if manifest.is_file() and json.loads(manifest.read_text()).get("inputs", {}).get("checkpoint", {}).get("sha256") == digest:
        return out
    status(f"importing {checkpoint}")
    net = import_official(checkpoint)
    save_supernet(net, out, ModelInfo(num_classes=net.num_classes, inputs={"checkpoint": {"path": str(checkpoint), "sha256": digest}}))
    return out


def _trained(config: ZooConfig, run_dir: Path, status) -> Path:
    from ofa.train.config import load_config
    from ofa.train.loop import resume, train

    supernet = run_dir / "supernet"
    if (supernet / "manifest.json").is_file():
        return supernet
    if (run_dir / "checkpoint").exists() or (run_dir / "checkpoints").exists():
        status(f"resuming training in {run_dir}")
        return resume(run_dir).run_dir / "supernet"
    src = config.supernet
    options = {"space": config.space, "data": config.data}
    if src.transfer:  # the space is the init supernet's unless the zoo names one
        options = {"init": src.path or src.import_official, "data": config.data,
                   "space": config.space if "space" in config.model_fields_set else None}
        status(f"fine-tuning {options['init']} on {config.data}")
    else:
        status(f"training a supernet of {config.space} on {config.data}")
    cfg = load_config(src.preset, options=options, overrides=tuple(src.train_overrides))
    return train(cfg, run_dir).run_dir / "supernet"


# ----- latency ------------------------------------------------------------------------------------
def latency_stage(target, supernet, lut_dir: Path, status, stat: str, sessions=None):
    """Build (or finish) the device's table, its calibration measurements and validation; the search cost,
    predicting the declared budget statistic ``stat`` (recorded in the table's manifest). The three measure
    through one session from ``sessions`` (the run's :class:`~devices.pool.SessionPool`) when given."""
    from devices.catalog import get_device
    from latency import build_lut, calibrate, validate_lut
    from latency.profile import default_convert_workers
    from latency.table import LatencyTable
    from ofa.search.latency_costs import load_latency_cost

    space = supernet.space
    if target.latency_predictor:  # fitted from end-to-end measurements: no table to build
        status(f"latency of {target.device} from the fitted predictor {target.latency_predictor}")
        return load_latency_cost(target.latency_predictor, space, stat=stat)[1], None
    live = lambda: sessions.session(get_device(target.device)) if sessions is not None else None  # noqa: E731
    resolutions = target.lut_resolutions or list(space.resolutions)
    done = (lut_dir / "manifest.json").is_file() and LatencyTable.load(lut_dir).manifest.get("complete")
    if not done:
        status(f"profiling {space.id} blocks on {target.device}")
        build_lut(target.device, space, resolutions, lut_dir, num_classes=supernet.num_classes,
                  convert_workers=default_convert_workers(), session=live())
    table = LatencyTable.load(lut_dir)
    if table.budget_stat != stat:  # a declaration, not data: the zoo's statistic wins over the device's
        table.manifest["budget_stat"] = stat
        table.save()
    if target.calibrate:
        calibrate(lut_dir, target.device, n=target.calibrate, session=live())
    validation = None
    if target.validate_n:
        validation = _validation_table(validate_lut(lut_dir, target.device, n=target.validate_n, session=live()))
    _, cost = load_latency_cost(str(lut_dir), space, stat=stat)
    return cost, validation


def _validation_table(report) -> dict | None:
    data = report if isinstance(report, dict) else getattr(report, "__dict__", {})
    predictors = data.get("predictors") or {}
    rows = [{"predictor": name, **{k: v for k, v in vals.items() if isinstance(v, (int, float))}} for name, vals in predictors.items()]
    if not rows:
        return None
    columns = ["predictor"] + [k for k in rows[0] if k != "predictor"]
    return {"rows": rows, "columns": columns}


# ----- accuracy -----------------------------------------------------------------------------------
def accuracy_stage(config: ZooConfig, supernet, supernet_dir: Path, source, out: Path, status):
    from ofa.io import sha256_file
    from ofa.search.acc_predictor import AccuracyPredictor, fit_and_evaluate
    from ofa.search.accuracy_table import build_accuracy_table, load_table

    acc = config.accuracy
    digest = sha256_file(supernet_dir / "weights.safetensors")
    if not (out / "acc_table.csv").is_file() or len(load_table(out)) < acc.samples:
        status(f"measuring {acc.samples} sub-networks for the accuracy predictor")
    table = build_accuracy_table(supernet, source, out, acc.samples, digest, config.search.seed, acc.calib_images)
    marker = out / "predictor_inputs.json"
    key = {"supernet": digest, "rows": len(table), "epochs": acc.epochs, "members": acc.ensemble,
           "spread": "ensemble+residual"}
    if marker.is_file() and json.loads(marker.read_text()) == key and (out / "predictor.json").is_file():
        return AccuracyPredictor.load(out)
    predictor = fit_and_evaluate(supernet.space, table, seed=config.search.seed, epochs=acc.epochs, curve=(),
                                 members=acc.ensemble)
    predictor.save(out)
    atomic_write_json(marker, key)
    return predictor


# ----- search -------------------------------------------------------------------------------------
def auto_budgets(cost, front: list[FrontPoint], n: int) -> list[float]:
    """``n`` budgets spread over the useful latency range: the fastest sub-network .. the front's most
    accurate point (beyond it a larger budget buys no predicted accuracy, so it would repeat an entry)."""
    low, _ = cost.minimum()
    high = max(front, key=lambda p: p.predicted_top1).latency_ms if front else low
    fractions = np.linspace(0.25, 0.9, n) if n > 1 else np.array([0.5])
    return [float(f"{low + f * (high - low):.3g}") for f in fractions]


def search_problem(config: ZooConfig, state, supernet, predictor):
    from ofa.search.api import SearchProblem

    return SearchProblem(supernet.space, predictor, supernet.num_classes, {state.target.device: state.cost},
                         rank_by=config.accuracy.rank_by)


def search_stage(config: ZooConfig, state, supernet, predictor, out: Path, status) -> tuple[list, list, dict]:
    """The device's predicted front and the budgets to build (``auto``: spread over the front); cached."""
    from ofa.search.api import pareto
    from ofa.search.evolution import EvolutionSettings

    target = state.target
    name = target.device
    problem = search_problem(config, state, supernet, predictor)
    s = config.search
    key = {"predictor": predictor.report.get("n_rows"), "weights": predictor.fingerprint(),
           "lut": state.cost.minimum()[0], "stat": state.latency_stat, "budgets": target.budgets_ms,
           "n_auto": target.auto_budgets, "settings": s.model_dump(), "rank_by": config.accuracy.rank_by}
    cache = out / f"{safe_name(name)}.json"
    saved = _cached_search(cache, key)
    if saved is not None:
        return saved
    front = [FrontPoint(r.latency(name).mean, r.predicted_top1)
             for r in pareto(problem, name, EvolutionSettings(population=s.population, generations=s.pareto_generations,
                                                              seed=s.seed))]
    budgets = auto_budgets(state.cost, front, target.auto_budgets) if target.budgets_ms == "auto" \
        else list(target.budgets_ms)
    status(f"{len(budgets)} budget(s) on {name} ({state.latency_stat} of plain timed runs): {budgets} ms")
    atomic_write_json(cache, {"key": key, "front": [p.to_json() for p in front], "budgets": budgets})
    return front, budgets, key


def _cached_search(cache: Path, key: dict) -> tuple[list[FrontPoint], list, dict] | None:
    """The saved front and budgets when they were made from ``key``; None (search again) otherwise."""
    if not cache.is_file():
        return None
    saved = json.loads(cache.read_text())
    if saved.get("key") != key or "budgets" not in saved:
        return None
    try:
        return [FrontPoint.from_json(p) for p in saved["front"]], saved["budgets"], key
    except (KeyError, TypeError, ValueError):  # a cache this version cannot read: search again
        return None
