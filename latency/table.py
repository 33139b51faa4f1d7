"""The latency lookup table on disk: ``lut.csv`` (one row per block) + ``manifest.json``.

The manifest carries the schema version, tool version, space id, resolutions, number of classes,
the device fingerprint (CPU model, cores, OS, runtime + version, threads, precision, governor), the
timing protocol (warm-up, repeats, rounds, passes, drift anchor, outlier rule), the statistic the
predictors use (``stat``: ``steady_ms`` for tables measured with a drift anchor, ``min_ms`` without one,
``mean_ms`` for imported and schema-1 tables), dates, and whether the table is complete. Both
files are written atomically (temp file + rename), table first, so a killed run never leaves a
half-written table; re-running the same build resumes from the rows on disk.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from latency.stats import PERCENTILES, STAT_COLUMNS, STEADY, steady
from ofa.errors import ArtifactError
from ofa.io import atomic_write, atomic_write_json

log = logging.getLogger(__name__)
SCHEMA_VERSION = 2  # 2: anchor_ms column, manifest "stat"; schema-1 tables still load (stat mean_ms)
TABLE_FILE, MANIFEST_FILE = "lut.csv", "manifest.json"
E2E_FILE, REPORT_FILE = "e2e.csv", "validation.json"
BLOCK_COLUMNS = ("key", "kind", "resolution", "in_size", "in_channels", "out_size", "out_channels", "mid_channels",
                 "kernel", "stride", "expand", "se", "act")
COLUMNS = BLOCK_COLUMNS + STAT_COLUMNS + ("measured_at",)


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def tool_version() -> str:
    from ofa import __version__

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
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{manifest_path} is not valid JSON: {exc}") from None
        if manifest.get("kind") != "latency-lut":
            raise ArtifactError(f"{directory} holds a {manifest.get('kind')!r} artifact, not a latency table")
        if manifest.get("schema_version", 0) > SCHEMA_VERSION:
            raise ArtifactError(f"{directory} uses LUT schema {manifest['schema_version']}; this tool reads up to "
                                f"{SCHEMA_VERSION}. Upgrade ofa-deploy.")
        frame = pd.read_csv(table_path) if table_path.is_file() else None
        if frame is not None:
            fill_missing_stats(frame)
            if not set(COLUMNS) - {"measured_at"} <= set(frame.columns):
                raise ArtifactError(f"{table_path} lacks columns {sorted(set(COLUMNS) - set(frame.columns))}")
        return cls(directory, manifest, frame)

    @property
    def space_id(self) -> str:
        return self.manifest["space"]

    @property
    def resolutions(self) -> list[int]:
        return list(self.manifest["resolutions"])

    @property
    def num_classes(self) -> int:
        return int(self.manifest.get("num_classes", 1000))

    def idents(self) -> set[tuple[int, str]]:
        return set(zip(self.frame["resolution"].astype(int), self.frame["key"]))

    @property
    def budget_stat(self) -> str:
        """The declared statistic of latency budgets on this device (``median`` unless the device said otherwise)."""
        from latency.stats import DEFAULT_BUDGET_STAT

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
                "source": m.get("source"), "created": m.get("created"), "schema_version": m.get("schema_version"),
                "tool_version": m.get("tool_version")}


def fill_missing_stats(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns older tables lack (schema 1: anchor_ms; before declared budgets: percentiles) as NaN."""
    for column in ("anchor_ms",) + tuple(f"p{q}_ms" for q in PERCENTILES):
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


def new_manifest(space_id: str, resolutions: list[int], num_classes: int, n_blocks: int, device: dict[str, Any],
                 protocol: dict[str, Any], source: str = "measured", stat: str = "mean_ms",
                 budget_stat: str = "median") -> dict[str, Any]:
    return {"kind": "latency-lut", "schema_version": SCHEMA_VERSION, "tool_version": tool_version(), "source": source,
            "stat": stat, "budget_stat": budget_stat,
            "space": space_id, "resolutions": sorted(resolutions), "num_classes": num_classes, "n_blocks": n_blocks,
            "units": "ms", "device": device, "protocol": protocol, "created": now(), "complete": False}
