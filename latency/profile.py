"""Build a latency table by timing every block on a device: resumable, atomic, progress-reporting."""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

from devices.modelfile import model_job
from devices.runners import MeasureJob
from devices.session import DeviceSession
from devices.stats import OUTLIER_RULE, STEADY, summarize
from latency.anchor import anchor_block, anchor_job
from latency.blocks import LutBlock
from latency.int8 import Int8Calibration, check_calibration
from latency.lock import lut_lock
from latency.micro import ModelCache
from latency.resnet_blocks import lut_space, space_blocks
from latency.table import LatencyTable, new_manifest, now
from ofa.errors import ArtifactError, ConfigError, DeviceError
from ofa.spaces import SearchSpace

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]
#: fingerprint fields that must match to add rows to an existing table
IDENTITY = ("device", "runner", "runtime", "cpu_model", "threads", "precision")


def protocol(session: DeviceSession, anchor: Optional[LutBlock], calibration: Optional[Int8Calibration] = None) -> dict:
    r = session.spec.runner
    int8 = (calibration or Int8Calibration()).to_dict() if r.precision == "int8" else None
    return {"warmup": r.warmup, "repeats": r.repeats, "rounds": r.rounds, "passes": r.passes,
            "anchor": anchor.job_id if anchor is not None and session.uses_anchor else None,
            "outlier_rule": OUTLIER_RULE, "model_format": session.model_format, "layout": session.layout,
            "int8_calibration": int8}


def table_stat(session: DeviceSession) -> str:
    """What the table's predictors use: drift-compensated minimum with an anchor, else the minimum."""
    return STEADY if session.uses_anchor else "min_ms"


def open_table(out_dir: Path, space: SearchSpace, resolutions: Sequence[int], num_classes: int,
               n_blocks: int, fingerprint: dict, proto: dict, stat: str) -> LatencyTable:
    """The table in ``out_dir`` to continue, or a new one; refuses to mix devices, spaces or protocols."""
    if not LatencyTable.exists(out_dir):
        manifest = new_manifest(space.id, list(resolutions), num_classes, n_blocks, fingerprint, proto, stat=stat)
        if not isinstance(space, SearchSpace):  # OFA-ResNet: the definition travels (fixture spaces are no built-in)
            manifest |= {"family": "resnet", "space_def": space.model_dump(mode="json")}
        return LatencyTable(out_dir, manifest)
    table = LatencyTable.load(out_dir)
    old = table.manifest
    problems = [f"space {old['space']} != {space.id}"] if old["space"] != space.id else []
    if not isinstance(space, SearchSpace) and old.get("space_def") != space.model_dump(mode="json"):
        problems.append(f"the ResNet space definition of {space.id} differs from the table's")
    problems += [f"statistic {table.stat} != {stat} (built by an older version or with other runner settings)"
                 ] if table.stat != stat else []
    problems += [f"anchor {old['protocol'].get('anchor')} != {proto['anchor']}"] if old["protocol"].get("anchor") != proto["anchor"] else []
    problems += [f"num_classes {old.get('num_classes')} != {num_classes}"] if old.get("num_classes") != num_classes else []
    old_calib, new_calib = (old["protocol"].get("int8_calibration") or {}), (proto.get("int8_calibration") or {})
    problems += [f"int8 calibration {_calib_text(old_calib)} != {_calib_text(new_calib)}"
                 ] if _calib_text(old_calib) != _calib_text(new_calib) else []
    problems += [f"{k} {old['device'].get(k)!r} != {fingerprint.get(k)!r}" for k in IDENTITY
                 if old["device"].get(k) != fingerprint.get(k)]
    if problems:
        raise ArtifactError(f"{out_dir} already holds a table made differently ({'; '.join(problems)}); "
                            "choose another --out directory (tables of different devices never mix)")
    old["resolutions"] = sorted(set(old["resolutions"]) | set(resolutions))
    old["n_blocks"] = n_blocks
    return table


def _calib_text(data: dict) -> str:
    return "none" if not data else f"{data.get('data')}/{data.get('images')} images/seed {data.get('seed')}"


def build_lut(device, space: "SearchSpace | str", resolutions: Sequence[int], out_dir: "str | Path",
              num_classes: int = 1000, chunk_size: int = 16, on_progress: Optional[Progress] = None,
              session: Optional[DeviceSession] = None, convert_workers: int = 1,
              calibration: Optional[Int8Calibration] = None) -> LatencyTable:
    """Time every block of ``space`` at ``resolutions`` on ``device`` into ``out_dir``.

    Re-running with the same arguments continues where a killed or failed run stopped: rows are
    saved after every ``chunk_size`` blocks. If the device drops mid-run, the rows measured so far are
    saved and a :class:`DeviceError` says how many remain. ``convert_workers`` > 1 converts the
    micro-models in that many spawned processes first (the CLI uses :func:`default_convert_workers`; a
    script that passes it needs the usual ``if __name__ == "__main__":`` guard). ``out_dir`` is locked for
    the build (:func:`latency.lock.lut_lock`): a second writer fails fast with a :class:`ConfigError`.
    A device with ``runner.precision: int8`` times int8 micro-models calibrated on ``calibration``
    (default: 16 images of the built-in digits; see :mod:`latency.int8`), recorded in the manifest.
    """
    space, out_dir = lut_space(space), Path(out_dir)
    bad = sorted(set(resolutions) - set(space.resolutions))
    if bad or not resolutions:
        raise ConfigError(f"resolutions {bad or '[]'} are not in space {space.id}; valid: {list(space.resolutions)}")
    all_blocks = space_blocks(space, sorted(set(resolutions)), num_classes)
    with lut_lock(out_dir), (nullcontext(session) if session is not None else DeviceSession(device)) as live:
        return _build(space, resolutions, out_dir, num_classes, all_blocks, chunk_size, on_progress, live,
                      convert_workers, calibration)


def _build(space: SearchSpace, resolutions: Sequence[int], out_dir: Path, num_classes: int,
           all_blocks: list[LutBlock], chunk_size: int, on_progress: Optional[Progress], session: DeviceSession,
           convert_workers: int, calibration: Optional[Int8Calibration]) -> LatencyTable:
    """:func:`build_lut` once the directory is locked and the device session is open."""
    anchor = anchor_block(space, resolutions)
    if not isinstance(space, SearchSpace) and session.spec.runner.precision != "fp32":
        raise ConfigError(f"{space.id} (OFA-ResNet) tables are timed in fp32 only; {session.spec.name} is "
                          f"{session.spec.runner.precision}: pick an fp32 device")
    table = open_table(out_dir, space, resolutions, num_classes, len(all_blocks), session.fingerprint(),
                       protocol(session, anchor, calibration), table_stat(session))
    table.manifest["budget_stat"] = session.spec.latency_stat  # what end-to-end fits target (see latency.api)
    done = table.idents()
    todo = [b for b in all_blocks if b.ident not in done]
    log.info("%s on %s: %d blocks, %d already measured", space.id, session.spec.name, len(all_blocks), len(done))
    if on_progress:
        on_progress(len(all_blocks) - len(todo), len(all_blocks))
    cache = ModelCache.for_session(out_dir / "models", session, Int8Calibration.of_manifest(table.manifest))
    if cache.precision == "int8" and todo:
        log.info("int8 micro-models calibrated on %d images of %s", check_calibration(cache.recipe.calibration),
                 cache.recipe.calibration.data)
    table.save()
    cache.prebuild(todo + ([anchor] if session.uses_anchor else []), space, convert_workers)
    anchor_j = anchor_job(anchor, space, cache, session)
    for chunk in _chunks(todo, chunk_size):
        _measure_chunk(session, space, chunk, cache, table, anchor_j)
        if on_progress:
            on_progress(len(table.frame), len(all_blocks))
    table.manifest["complete"] = True
    table.save()
    return table


def _measure_chunk(session: DeviceSession, space: SearchSpace, chunk: list[LutBlock], cache: ModelCache,
                   table: LatencyTable, anchor: Optional[MeasureJob]) -> None:
    by_id = {b.job_id: b for b in chunk}
    jobs = [block_job(b, space, cache, session.layout) for b in chunk]
    rows = []
    try:
        for timing in session.measure(jobs, anchor):
            rows.append(by_id[timing.id].row() | summarize(timing) | {"measured_at": now()})
    except (DeviceError, KeyboardInterrupt) as exc:
        table.add_rows(rows)
        table.save()
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise DeviceError(f"{exc}\n{len(table.frame)}/{table.manifest['n_blocks']} blocks are saved in "
                          f"{table.directory}; re-run the same command to continue") from exc
    table.add_rows(rows)
    table.save()


def block_job(block: LutBlock, space: SearchSpace, cache: ModelCache, layout: str) -> MeasureJob:
    return model_job(block.job_id, cache.block(block, space), block.input_shape, layout)


def default_convert_workers() -> int:
    """Processes for micro-model conversion: ``OFA_CONVERT_WORKERS``, else the CPU count (at most 4)."""
    value = os.environ.get("OFA_CONVERT_WORKERS")
    if value is not None:
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"OFA_CONVERT_WORKERS={value!r}: give a positive integer (1 = convert in this process)")
        return int(value)
    return max(1, min(4, os.cpu_count() or 1))


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + size]
