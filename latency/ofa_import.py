"""Read OFA-format YAML latency tables (``{resolution}_lookup_table.yaml``, e.g. OFA's Note10 tables).

Each file maps a block key to ``{count, mean, std}`` (ms). The keys are the ones
:mod:`latency.blocks` produces, so the imported table serves any predictor as if it were measured.
OFA gives no median: it is stored as NaN (predictors use the mean, as OFA does).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import yaml

from latency.blocks import enumerate_blocks
from latency.table import LatencyTable, new_manifest, now
from ofa.errors import ArtifactError, ConfigError
from ofa.spaces import get_space

log = logging.getLogger(__name__)
FILE_PATTERN = re.compile(r"^(\d+)_lookup_table\.ya?ml$")
DEFAULT_SPACE = "ofa_mbv3_d234_e346_k357_w1.2"  # the Note10 tables are for OFA-MBv3 at width 1.2


def import_ofa_tables(src: "str | Path", out_dir: "str | Path", space: str = DEFAULT_SPACE,
                      device_name: str | None = None, num_classes: int = 1000) -> LatencyTable:
    src, sp = Path(src), get_space(space)
    files = {int(m.group(1)): p for p in sorted(src.glob("*")) if (m := FILE_PATTERN.match(p.name))}
    if not files:
        raise ConfigError(f"{src} holds no OFA tables named <resolution>_lookup_table.yaml")
    unknown = sorted(set(files) - set(sp.resolutions))
    if unknown:
        raise ConfigError(f"tables for resolutions {unknown} do not fit space {sp.id} (valid: {list(sp.resolutions)}); pass --space")
    blocks = {b.ident: b for b in enumerate_blocks(sp, sorted(files), num_classes)}
    rows, seen = [], set()
    for r, path in sorted(files.items()):
        entries = yaml.safe_load(path.read_text()) or {}
        for key, stats in entries.items():
            if (r, key) in blocks:
                seen.add((r, key))
                rows.append(blocks[(r, key)].row() | _stats(stats, path, key))
    missing = [f"{k} at r={r}" for r, k in sorted(set(blocks) - seen)]
    if missing:
        raise ArtifactError(f"{src} lacks {len(missing)} block(s) of space {sp.id}, e.g. {missing[0]}; "
                            "is it a table for another space (--space)?")
    device = {"device": device_name or src.name, "runner": "imported", "runtime": "unknown (OFA YAML)",
              "cpu_model": None, "threads": None, "precision": None, "source_dir": str(src)}
    manifest = new_manifest(sp.id, sorted(files), num_classes, len(blocks), device, {"note": "imported; OFA's protocol"},
                            source="ofa-yaml")
    table = LatencyTable(out_dir, manifest)
    table.add_rows(rows)
    table.manifest["complete"] = True
    table.save()
    log.info("imported %d blocks of %s from %s", len(rows), sp.id, src)
    return table


def _stats(entry, path: Path, key: str) -> dict:
    if not isinstance(entry, dict) or "mean" not in entry:
        raise ArtifactError(f"{path}: entry {key} has no 'mean' (expected count/mean/std)")
    std = entry.get("std", math.sqrt(entry["var"]) if "var" in entry else math.nan)
    return {"mean_ms": float(entry["mean"]), "median_ms": math.nan, "std_ms": float(std), "min_ms": math.nan,
            "max_ms": math.nan, "count": int(entry.get("count", -1)), "rejected": 0, "anchor_ms": math.nan, "measured_at": now()}
