"""One zoo entry: extract -> BN recalibration -> measured accuracy -> export + parity -> on-device latency -> card."""

from __future__ import annotations

import logging
import os
import shutil
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ofa.search.result import Candidate, LatencyEstimate
from ofa.version import __version__
from ofa.zoo.card import CARD_HEADER, CARD_JSON, write_card
from ofa.zoo.keys import file_hash, inputs_hash, safe_name
from ofa.zoo.results import EntryResult

if TYPE_CHECKING:
    from devices.pool import SessionPool

log = logging.getLogger(__name__)


def entry_name(space_id: str, device: str, budget_ms: float) -> str:
    return f"{space_id}.{device}-{budget_ms:g}ms"


def build_entry(config, out: Path, supernet, supernet_dir: Path, evaluator, state, problem, budget_ms: float,
                status) -> EntryResult:
    """The entry of one (device, budget): closed-loop search, measured choice, export, on-device latency, card."""
    from ofa.errors import InfeasibleError
    from ofa.zoo.budget import meet_budget
    from ofa.zoo.quant import entry_status

    target = state.target
    name = safe_name(entry_name(supernet.space.id, target.device, budget_ms))
    result = partial(EntryResult, name, target.device, budget_ms)
    key = inputs_hash(file_hash(supernet_dir / "weights.safetensors"), state.search_key, budget_ms, target.model_dump(),
                      config.bn_calib_images, config.data, config.accuracy.model_dump(), config.search.model_dump(),
                      config.entry_warmup, config.entry_repeats, config.entry_passes, config.int8_calib_images,
                      config.int8_max_drop, config.int8_tries, __version__)
    final = out / name
    cached = _cached_card(final / CARD_JSON, key)
    if cached is not None:
        state.winners.append(winner_row(cached))
        return result(cached["status"], cached.get("reason", ""), cached)
    fastest, _ = state.cost.minimum()
    if fastest > budget_ms * (1 - target.latency_margin):  # fail fast, before any build
        return result("infeasible", f"no sub-network meets {budget_ms:g} ms less the {100 * target.latency_margin:g} % "
                                    f"margin: the smallest reachable is {fastest:.4g} ms ({state.latency_stat}, "
                                    "predicted); raise the budget", {"latency_ms": {"predicted_mean": fastest}})
    status(f"building {name}")

    def attempt(index: int, target_ms: float) -> tuple[float, tuple[Path, dict]]:
        tmp = _fresh(out / f".tmp-{name}-r{index}")
        card = _build_round(config, tmp, supernet, supernet_dir, evaluator, state, problem, target_ms)
        measured = card["latency_ms"].get("measured")
        status(f"{name} round {index + 1}: target {target_ms:.4g} ms, measured {_fmt_ms(measured)} "
               f"({state.latency_stat})")
        return (float("inf") if measured is None else measured), (tmp, card)

    try:
        outcome = meet_budget(budget_ms, target.latency_margin, target.latency_rounds, attempt,
                              floor_ms=fastest * (1 + 1e-9))
    except InfeasibleError as exc:
        value, _ = state.cost.minimum()
        return result("infeasible", str(exc), {"latency_ms": {"predicted_mean": value}})
    tmp, card = outcome.chosen.result
    status_, reason = entry_status(outcome.status, outcome.reason, card, config.int8_max_drop)
    card |= {"name": name, "inputs_hash": key, "status": status_, "reason": reason, "budget_ms": budget_ms}
    card["latency_ms"] |= {"budget_ms": budget_ms, "limit_ms": outcome.limit_ms, "margin": target.latency_margin,
                           "rounds": [r.summary() for r in outcome.rounds]}
    card = write_card(tmp, card)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    state.winners.append(winner_row(card))
    for r in outcome.rounds:  # the rounds not kept
        shutil.rmtree(r.result[0], ignore_errors=True)
    return result(status_, reason, card)


def winner_row(card: dict) -> Candidate:
    """An entry as a search candidate again: a candidate for the device's larger budgets."""
    acc, lat = card["accuracy"], card["latency_ms"]
    return Candidate(card["subnet"], card["arch"], acc["predicted_top1"], acc.get("predicted_top1_std", 0.0),
                     {card["device"]: LatencyEstimate(lat["predicted_mean"], lat["predicted_std"])}, card["mflops"],
                     card["params_m"], latency_budget_ms=card["budget_ms"], rank="smaller budget")


def _cached_card(path: Path, key: str) -> dict | None:
    if not path.is_file():
        return None
    import json

    from ofa.errors import ArtifactError

    try:
        card = CARD_HEADER.check(json.loads(path.read_text()), path, "")
    except (ValueError, ArtifactError):  # unreadable, or another tool version's card: build the entry again
        return None
    return card if card.get("inputs_hash") == key and card.get("status") else None


def _fresh(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _fmt_ms(value) -> str:
    return "n/a" if value is None else f"{value:.4g} ms"


def _build_round(config, tmp: Path, supernet, supernet_dir: Path, evaluator, state, problem, target_ms: float) -> dict:
    """Top-K candidates under ``target_ms``, the best measured one built into ``tmp``; its card."""
    from ofa.search.api import top_candidates
    from ofa.search.evolution import EvolutionSettings
    from ofa.zoo.quant import device_precision, keep_int8_within_drop
    from ofa.zoo.select import pick_by_measured

    s = config.search
    settings = EvolutionSettings(population=s.population, generations=s.generations, seed=s.seed)
    device = state.target.device
    candidates = top_candidates(problem, device, target_ms, config.accuracy.top_k, settings, config.search.strategy)
    seen = {c.arch for c in candidates}
    for winner in state.winners:  # a larger budget may keep a smaller one's network: accuracy never falls
        if winner.arch not in seen and winner.latency(device).mean <= target_ms:
            candidates.append(winner.with_context(latency_budget_ms=target_ms))
            seen.add(winner.arch)
    row, net, accuracy, selection = pick_by_measured(evaluator, supernet.space, candidates)
    card = _build(config, tmp, supernet, supernet_dir, state, row, net, accuracy)
    if device_precision(device) == "int8":
        card = keep_int8_within_drop(card, tmp, _next_candidates(config, supernet, supernet_dir, evaluator, state,
                                                                 candidates, selection, row),
                                     config.int8_max_drop, config.int8_tries)
    card["accuracy"] |= {"rank_by": problem.rank_by, "candidates": selection}
    card["latency_ms"]["search_target_ms"] = target_ms
    return card


def _next_candidates(config, supernet, supernet_dir: Path, evaluator, state, candidates: list, selection: list,
                     chosen):
    """Builders of the other measured candidates, best measured fp32 top-1 first (for int8 tries)."""
    from ofa.subnet import SubnetConfig

    order = sorted((i for i, c in enumerate(candidates) if c is not chosen), key=lambda i: -selection[i]["top1"])
    for i in order:
        def build(folder: Path, row=candidates[i]) -> dict:
            cfg = SubnetConfig.from_dict(row.subnet, supernet.space)
            net = evaluator.prepare(cfg)
            return _build(config, folder, supernet, supernet_dir, state, row, net, evaluator.accuracy(net, cfg.r))
        yield build


def _build(config, tmp: Path, supernet, supernet_dir: Path, state, row: Candidate, net, accuracy: dict) -> dict:
    from export.api import export_model
    from ofa.artifacts import ModelInfo, save_subnet
    from ofa.subnet import SubnetConfig

    target, device = state.target, state.target.device
    cfg = SubnetConfig.from_dict(row.subnet, supernet.space)
    base_info = supernet.info
    info = ModelInfo(num_classes=base_info.num_classes, mean=base_info.mean, std=base_info.std, labels=base_info.labels,
                     config={"command": "zoo", "device": device, "budget_ms": row.latency_budget_ms,
                             "bn_calib_images": config.bn_calib_images},
                     inputs={"supernet": {"path": str(supernet_dir)}})
    save_subnet(net, tmp / "subnet", info)
    from ofa.zoo.quant import device_precision, export_precisions, quantised_accuracy, strict_exports_passed

    layout = _device_layout(device)
    report = export_model(tmp / "subnet", formats=target.formats, precision=export_precisions(target),
                          out=tmp / "export", calib_data=config.data, calib_images=config.int8_calib_images,
                          val_images=accuracy["val_images"], nhwc=layout == "nhwc",
                          latency_repeats=config.export_latency_repeats, allow_mismatch=True)
    strict_exports_passed(report)
    exports = [_export_row(r, tmp) for r in report.results]
    quantised = quantised_accuracy(exports, device_precision(device), {
        "data": config.data, "split": "train", "images": report.images.get("calibration_images")})
    measured = measure_entry(device, exports, cfg, tmp, state.latency_stat, config.entry_warmup, config.entry_repeats,
                             config.entry_passes, state.sessions)
    pred = row.latency(device)
    return {
        **CARD_HEADER.fields(), "space": supernet.space.id, "device": device,
        "budget_ms": row.latency_budget_ms, "subnet": cfg.to_dict(), "arch": row.arch,
        "accuracy": {"top1": accuracy["top1"], "loss": accuracy["loss"], "split": "val", "images": accuracy["val_images"],
                     "predicted_top1": row.predicted_top1, "predicted_top1_std": row.predicted_top1_std,
                     **({device_precision(device): quantised} if quantised else {})},
        "latency_ms": {"stat": state.latency_stat, "predicted_mean": pred.mean, "predicted_std": pred.std, **measured},
        "mflops": row.mflops, "params_m": row.params_m, "exports": exports,
        "input": {"shape": list(_shape(cfg.r, layout)), "layout": layout.upper(), "mean": list(info.mean),
                  "std": list(info.std), "range": "RGB in [0, 1], then (x - mean) / std"},
        "labels": info.labels, "versions": _versions(),
    }


def _device_layout(device: str) -> str:
    from devices.session import DeviceSession

    return DeviceSession(device).layout


def _shape(r: int, layout: str) -> tuple[int, ...]:
    return (1, r, r, 3) if layout == "nhwc" else (1, 3, r, r)


def _export_row(result, tmp: Path) -> dict:
    metrics = result.outputs.get("logits", {})
    return {"format": result.format, "precision": result.precision, "status": result.status,
            "file": str(Path(result.file).relative_to(tmp)) if result.file else None, "bytes": result.size_bytes,
            "max_abs_diff": metrics.get("max_abs_diff"), "top1_agreement": metrics.get("top1_agreement"),
            "accuracy_drop": metrics.get("accuracy_drop"), "failures": list(result.failures),
            "accuracy_exported": metrics.get("accuracy_exported"),
            "accuracy_reference": metrics.get("accuracy_reference"), "images": metrics.get("images"),
            "latency_here_ms": (result.latency or {}).get("median_ms")}


def measure_entry(device: str, exports: list[dict], cfg, tmp: Path, stat: str, warmup: int, repeats: int,
                  passes: int, sessions: "SessionPool | None" = None) -> dict:
    """Latency of the exported file in the device's own format and precision, timed as a user times it.

    A plain loop (``warmup`` untimed runs, then ``repeats`` timed ones; no drift anchor, no choice of a
    quiet pass) in ``passes`` separate runs of the device's runner. ``measured`` is the declared
    statistic ``stat`` of the *slowest* pass: the promise has to hold for whichever run a user makes.
    The device's session comes from ``sessions`` (the zoo run's: one per device for every entry and
    round), or is opened for this one call.
    """
    from devices.pool import SessionPool

    if sessions is None:
        with SessionPool() as own:
            return measure_entry(device, exports, cfg, tmp, stat, warmup, repeats, passes, own)
    session = sessions.session(entry_timing_spec(device, warmup, repeats))
    fmt, precision = session.model_format, session.spec.runner.precision
    candidates = [e for e in exports if e["format"] == fmt and e["precision"] == precision and e["file"]
                  and e["status"] != "failed"]
    if not candidates:
        return {"measured": None, "measured_note": f"no {fmt} {precision} export for {device}; add {fmt} to the "
                                                   f"device's formats and {precision} to its precision list"}
    export = candidates[0]
    timings = _time_passes(session, tmp / export["file"], cfg.r, passes)
    return _entry_figures(timings, stat, warmup) | {"measured_format": f"{export['format']}:{export['precision']}",
                                                    "device_fingerprint": session.fingerprint()}


def entry_timing_spec(device: str, warmup: int, repeats: int):
    """The device as a user times a model: its runner with a plain loop of ``warmup`` + ``repeats`` runs in
    one pass, no drift anchor (the profiling settings would pick the quietest of several passes)."""
    from devices.catalog import get_device

    spec = get_device(device)
    runner = spec.runner.model_copy(update={"warmup": warmup, "repeats": repeats, "passes": 1, "drift_anchor": False})
    return spec.model_copy(update={"runner": runner})


def _time_passes(session, path: Path, r: int, passes: int) -> list:
    from devices.modelfile import model_job

    job = model_job("entry", path, (1, 3, r, r), session.layout)
    return [next(iter(session.measure([job]))) for _ in range(passes)]


def _entry_figures(timings: list, stat: str, warmup: int) -> dict:
    from devices.stats import budget_column, summarize, summarize_samples

    column = budget_column(stat)
    per_pass = [summarize(t)[column] for t in timings]
    samples = [x for t in timings for x in t.samples_ms]
    pooled = summarize_samples(samples) if samples else summarize(timings[0])
    return {"measured": max(per_pass), "measured_passes": per_pass, "measured_median": pooled["median_ms"],
            "measured_mean": pooled["mean_ms"], "measured_std": pooled["std_ms"], "measured_min": pooled["min_ms"],
            "measured_count": len(samples) or pooled["count"], "measured_warmup": warmup}


def _versions() -> dict:
    from ofa.env import environment

    env = environment()
    return {k: env[k] for k in ("ofa-deploy", "torch", "onnx", "onnxruntime", "litert (ai-edge-litert)", "litert-torch")}
