"""The latency lookup table on disk: ``lut.csv`` (one row per block) + ``manifest.json``.

The manifest carries the schema version, tool version, space id, resolutions, number of classes,
the device fingerprint (CPU model, cores, OS, runtime + version, threads, precision, governor), the
timing protocol (warm-up, repeats, rounds, passes, drift anchor, outlier rule), the statistic the
predictors use (``stat``: ``steady_ms`` for tables measured with a drift anchor, ``min_ms`` without one,
``mean_ms`` for imported and schema-1 tables), dates, and whether the table is complete. Both
files are written atomically (temp file + rename), table first, so a killed run never leaves a
half-written table; re-running the same build resumes from the rows on disk.

Loading checks what a hand edit or a broken copy can do: ``complete`` is recomputed from the rows
present against the blocks the space needs at the table's resolutions (the stored flag is never
trusted), and every timing must be finite, non-negative and at most :data:`MAX_BLOCK_MS`, with the
predictors' statistic positive for every block (:func:`check_timings`).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from devices.stats import PERCENTILES, STAT_COLUMNS, STEADY, steady
from ofa.errors import ArtifactError
from ofa.io import atomic_write, atomic_write_json, read_json_file
from ofa.manifest import ManifestHeader

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2  # 2: anchor_ms column, manifest "stat"; schema-1 tables still load (stat mean_ms)
HEADER = ManifestHeader("latency-lut", SCHEMA_VERSION, oldest=1)
TABLE_FILE, MANIFEST_FILE = "lut.csv", "manifest.json"
E2E_FILE, REPORT_FILE = "e2e.csv", "validation.json"
BLOCK_COLUMNS = ("key", "kind", "resolution", "in_size", "in_channels", "out_size", "out_channels", "mid_channels",
                 "kernel", "stride", "expand", "se", "act")
COLUMNS = BLOCK_COLUMNS + STAT_COLUMNS + ("measured_at",)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def tool_version() -> str:
    from ofa.version import __version__

    return __version__


class LatencyTable:
    """Block timings of one space on one device, with the manifest describing how they were made."""

    def __init__(self, directory: "str | Path", manifest: dict[str, Any], frame: pd.DataFrame | None = None):
        self.directory = Path(directory)
        self.manifest = manifest
        self.frame = frame if frame is not None else pd.DataFrame(columns=list(COLUMNS))

    # ----- reading --------------------------------------------------------------------------------
    @classmethod
    def exists(cls, directory: "str | Path") -> bool:
        return (Path(directory) / MANIFEST_FILE).is_file()

    @classmethod
    def load(cls, directory: "str | Path") -> "LatencyTable":
        directory = Path(directory)
        manifest_path, table_path = directory / MANIFEST_FILE, directory / TABLE_FILE
        if not manifest_path.is_file():
            raise ArtifactError(f"{directory} is not a latency table (no {MANIFEST_FILE}); build one with `ofa lut build`")
        manifest = read_json_file(manifest_path, "latency table manifest", ArtifactError)
        HEADER.check(manifest, manifest_path, "build one with `ofa lut build`")
        check_manifest(manifest, manifest_path)
        frame = _read_frame(table_path) if table_path.is_file() else None
        table = cls(directory, manifest, frame)
        if frame is not None:
            check_timings(table, table_path)
        table.manifest["complete"] = table.is_complete()  # from the rows present, never the stored flag
        return table

    @property
    def space_id(self) -> str:
        return self.manifest["space"]

    @property
    def resolutions(self) -> list[int]:
        return list(self.manifest["resolutions"])

    @property
    def num_classes(self) -> int:
        value = self.manifest.get("num_classes")
        return 1000 if value is None else int(value)  # tables written before the field: ImageNet heads

    def idents(self) -> set[tuple[int, str]]:
        return set(zip(self.frame["resolution"].astype(int), self.frame["key"]))

    def missing_blocks(self) -> list[tuple[int, str]]:
        """``(resolution, key)`` of the blocks the space needs at the table's resolutions that have no row."""
        from latency.resnet_blocks import space_blocks

        required = {b.ident for b in space_blocks(self.space(), self.resolutions, self.num_classes)}
        return sorted(required - self.idents())

    def space(self):
        """The table's space: a built-in or registered id, or (OFA-ResNet tables) the definition the manifest holds."""
        if self.manifest.get("family") == "resnet":
            from ofa.errors import ConfigError
            from ofa.resnet_artifacts import resnet_space

            try:
                return resnet_space(self.manifest.get("space_def") or self.space_id)
            except ConfigError as exc:  # an edited or cut manifest: the table cannot be read against its space
                raise ArtifactError(f"{self.directory / MANIFEST_FILE}: the ResNet space of the table is invalid ({exc}); "
                                    "restore the manifest or rebuild with `ofa lut build`") from None
        from ofa.spaces import get_space

        return get_space(self.space_id)

    def is_complete(self) -> bool:
        """Whether every block of the space at the table's resolutions has a row (False if the space is unknown)."""
        from ofa.errors import ConfigError

        try:
            return not self.missing_blocks()
        except (ConfigError, KeyError, TypeError) as exc:  # unknown space id; no space/resolutions in the manifest
            log.debug("cannot check completeness of %s: %s", self.directory, exc)
            return False

    @property
    def budget_stat(self) -> str:
        """The declared statistic of latency budgets on this device (``median`` unless the device said otherwise)."""
        from devices.stats import DEFAULT_BUDGET_STAT

        return self.manifest.get("budget_stat", DEFAULT_BUDGET_STAT)

    @property
    def stat(self) -> str:
        """The statistic predictors use by default (see the module docstring)."""
        return self.manifest.get("stat", "mean_ms")

    @property
    def anchor_ref_ms(self) -> float:
        """The drift anchor's fastest timing over the table: the quiet device that ``steady_ms`` refers to."""
        anchors = self.frame["anchor_ms"].to_numpy(float)
        if not len(anchors) or np.isnan(anchors).all():
            raise ArtifactError(f"{self.directory} was measured without a drift anchor; use stat 'min_ms' or 'mean_ms'")
        return float(np.nanmin(anchors))

    def column(self, frame: pd.DataFrame, stat: "str | None" = None) -> np.ndarray:
        """``stat`` (default :attr:`stat`) of the rows of ``frame`` (this table's or its end-to-end rows)."""
        stat = stat or self.stat
        if stat == STEADY:
            return steady(frame["min_ms"], frame["anchor_ms"], self.anchor_ref_ms)
        if stat not in frame.columns:
            raise ArtifactError(f"unknown statistic {stat!r}; valid: mean_ms, median_ms, min_ms, "
                                f"{', '.join(f'p{q}_ms' for q in PERCENTILES)}, {STEADY}")
        return frame[stat].to_numpy(float)

    def values(self, stat: "str | None" = None) -> dict[tuple[int, str], np.ndarray]:
        """``(resolution, key) -> [value, variance]`` for predictors (variance = std^2, NaN std counts as 0).

        ``stat`` defaults to the table's own (:attr:`stat`); a drift-compensated value's std is rescaled with it.
        """
        stat = stat or self.stat
        std = self.frame["std_ms"].fillna(0.0).to_numpy(float)
        val = self.column(self.frame, stat)
        if stat == STEADY:
            std = std * val / self.frame["min_ms"].to_numpy(float)
        if np.isnan(val).any():
            raise ArtifactError(f"statistic {stat} is missing for some blocks of {self.directory}; use stat 'mean_ms'")
        res = self.frame["resolution"].astype(int)
        return {(r, k): np.array([v, s * s]) for r, k, v, s in zip(res, self.frame["key"], val, std)}

    # ----- writing --------------------------------------------------------------------------------
    def add_rows(self, rows: Iterable[dict[str, Any]]) -> None:
        new = pd.DataFrame(list(rows), columns=list(COLUMNS))
        if not new.empty:
            frame = new if self.frame.empty else pd.concat([self.frame, new], ignore_index=True)
            self.frame = frame.drop_duplicates(["resolution", "key"], keep="last").reset_index(drop=True)

    def save(self) -> None:
        """Write the table then the manifest, each atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.manifest["updated"] = now()
        self.manifest["n_measured"] = int(len(self.frame))
        atomic_write(self.directory / TABLE_FILE, lambda tmp: self.frame.to_csv(tmp, index=False))
        atomic_write_json(self.directory / MANIFEST_FILE, self.manifest)
        log.debug("saved %d rows to %s", len(self.frame), self.directory)

    def summary(self) -> dict[str, Any]:
        m = self.manifest
        fp = m.get("device", {})
        return {"directory": str(self.directory), "space": m["space"], "resolutions": m["resolutions"],
                "device": fp.get("device"), "runner": fp.get("runner"), "runtime": fp.get("runtime"),
                "cpu_model": fp.get("cpu_model"), "threads": fp.get("threads"), "precision": fp.get("precision"),
                "blocks": f"{len(self.frame)}/{m.get('n_blocks', '?')}", "complete": m.get("complete"), "stat": self.stat,
                "num_classes": m.get("num_classes"),
                "source": m.get("source"), "created": m.get("created"), "schema_version": m.get("schema_version"),
                "tool_version": m.get("tool_version")}


def _read_frame(path: Path) -> pd.DataFrame:
    fix = "re-run `ofa lut build` with the same arguments into a fresh --out directory, or restore the file"
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"{path} is not a readable latency table ({reason}); {fix}") from None
    fill_missing_stats(frame)
    if not set(COLUMNS) - {"measured_at"} <= set(frame.columns):
        raise ArtifactError(f"{path} lacks columns {sorted(set(COLUMNS) - set(frame.columns))}; {fix}")
    try:
        resolution = pd.to_numeric(frame["resolution"], errors="coerce").astype(float)
    except (OverflowError, TypeError, ValueError):  # an integer beyond int64, or a mixed column
        resolution = pd.Series(np.nan, index=frame.index)
    valid = np.isfinite(resolution) & (resolution == resolution.round()) & (resolution >= 1) & (resolution <= 4096)
    broken = cut_off_rows(frame, ["key"]) | ~valid.to_numpy(bool)
    broken = np.flatnonzero(broken)
    if len(broken):
        raise ArtifactError(f"{path}: data row(s) {(broken[:5] + 1).tolist()} are incomplete (a cut-off write?); {fix}")
    return frame


_STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?"  # what now() writes


def cut_off_rows(frame: pd.DataFrame, required: list[str]) -> np.ndarray:
    """Rows missing a ``required`` value, or whose ``measured_at`` (written last on every line) is absent or a
    partial timestamp: what a line cut off mid-write looks like."""
    broken = frame[required].isna().any(axis=1).to_numpy().copy()
    if "measured_at" in frame.columns:
        broken |= ~frame["measured_at"].astype(str).str.fullmatch(_STAMP).to_numpy(bool)
    return broken


#: Largest block timing accepted (ms). No single block of a mobile network runs for 100 s; a larger value is an
#: edit or a unit mistake, and would dominate every prediction.
MAX_BLOCK_MS = 1e5
TIMING_COLUMNS = tuple(c for c in STAT_COLUMNS if c.endswith("_ms"))


def check_timings(table: "LatencyTable", path: Path) -> None:
    """Refuse edited or corrupt timings: every reported value finite, in ``[0, MAX_BLOCK_MS]`` (NaN = not
    reported by the runner), and the statistic the predictors use present and positive for every block."""
    frame = table.frame
    if frame.empty:  # saved before the first chunk was measured: nothing to check yet
        return
    for column in TIMING_COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        reported = ~frame[column].isna().to_numpy()
        bad = reported & ~(np.isfinite(values) & (values >= 0) & (values <= MAX_BLOCK_MS))
        _refuse(table, path, column, bad, frame[column].to_numpy(), f"finite, in 0..{MAX_BLOCK_MS:g} ms")
    used = table.column(frame)
    bad = ~(np.isfinite(used) & (used > 0))
    _refuse(table, path, table.stat, bad, used, "present and positive: predictors sum it")


def _refuse(table: "LatencyTable", path: Path, column: str, bad: np.ndarray, values, rule: str) -> None:
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    block = f"{table.frame['key'].iloc[i]} at r={int(table.frame['resolution'].iloc[i])}"
    value = values[i]
    shown = repr(float(value)) if isinstance(value, (int, float, np.number)) else repr(value)
    fix = ("re-import it with `ofa lut import-ofa`" if table.manifest.get("source") == "ofa-yaml" else
           "delete the bad row(s) and re-run `ofa lut build` with the same arguments "
           "(it measures only missing blocks)")
    raise ArtifactError(f"{path}: block {block} has {column} = {shown} ({int(bad.sum())} bad value(s) in this "
                        f"column); a timing must be {rule}. To fix, {fix}")


def fill_missing_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns older tables lack (schema 1: anchor_ms; before declared budgets: percentiles) as NaN."""
    for column in ("anchor_ms",) + tuple(f"p{q}_ms" for q in PERCENTILES):
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


#: manifest field -> (types it may hold, required); what readers of a table rely on
_MANIFEST_FIELDS = {"space": ((str,), True), "resolutions": ((list,), True),
                    "num_classes": ((int,), False), "stat": ((str,), False), "budget_stat": ((str,), False),
                    "device": ((dict,), False), "protocol": ((dict,), False), "n_blocks": ((int,), False),
                    "source": ((str,), False), "family": ((str,), False), "space_def": ((dict,), False)}


def check_manifest(manifest: dict, path: Path) -> None:
    """Refuse a hand-edited or corrupt LUT manifest with an :class:`ArtifactError` naming the field (the header:
    :data:`HEADER`, checked by :meth:`LatencyTable.load` first)."""
    fix = "restore it from the table's build (or rebuild with `ofa lut build`)"
    for key, (types, required) in _MANIFEST_FIELDS.items():
        value = manifest.get(key)
        if value is None and not required:
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise ArtifactError(f"{path}: field {key!r} must be a {' or '.join(t.__name__ for t in types)}, got "
                                f"{value!r}; {fix}")
    res = manifest["resolutions"]
    if not res or not all(isinstance(r, int) and not isinstance(r, bool) and 1 <= r <= 4096 for r in res):
        raise ArtifactError(f"{path}: 'resolutions' must list input sizes in pixels, got {res!r}; {fix}")
    if manifest.get("num_classes") is not None and not 1 <= manifest["num_classes"] <= 10**6:
        raise ArtifactError(f"{path}: 'num_classes' must be 1..1000000, got {manifest['num_classes']!r}; {fix}")


def new_manifest(space_id: str, resolutions: list[int], num_classes: int, n_blocks: int, device: dict[str, Any],
                 protocol: dict[str, Any], source: str = "measured", stat: str = "mean_ms",
                 budget_stat: str = "median") -> dict[str, Any]:
    return {**HEADER.fields(), "source": source,
            "stat": stat, "budget_stat": budget_stat,
            "space": space_id, "resolutions": sorted(resolutions), "num_classes": num_classes, "n_blocks": n_blocks,
            "units": "ms", "device": device, "protocol": protocol, "created": now(), "complete": False}
