"""Small real artifacts on disk for the bad-input tests: a latency table with made-up timings (written by
the library's own writer), a supernet directory and an accuracy predictor directory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from conftest import TINY


def write_lut(directory: Path, space_id: str = TINY, resolutions=(16,), num_classes: int = 10):
    """A complete table of ``space_id`` whose block ``i`` takes ``0.1 + 0.01 * i`` ms."""
    from latency.blocks import enumerate_blocks
    from latency.table import LatencyTable, new_manifest, now
    from ofa.spaces import get_space

    blocks = enumerate_blocks(get_space(space_id), list(resolutions), num_classes)
    manifest = new_manifest(space_id, list(resolutions), num_classes, len(blocks), {"device": "synthetic"},
                            {"anchor": None}, stat="mean_ms")
    table = LatencyTable(directory, manifest)
    rows = []
    for i, block in enumerate(blocks):
        t = 0.1 + 0.01 * i
        rows.append(block.row() | {"mean_ms": t, "median_ms": t, "std_ms": 0.01, "min_ms": 0.9 * t, "max_ms": 1.2 * t,
                                   "count": 10, "rejected": 0, "anchor_ms": math.nan, "p75_ms": t, "p90_ms": t,
                                   "p95_ms": t, "p99_ms": t, "measured_at": now()})
    table.add_rows(rows)
    table.manifest["complete"] = True
    table.save()
    return table


def write_e2e(directory: Path, n: int = 6, space_id: str = TINY) -> Path:
    """A complete table (:func:`write_lut`) plus ``n`` end-to-end calibration rows of ``2 + i`` ms."""
    import pandas as pd

    from latency.e2e import E2E_COLUMNS, save_e2e
    from ofa.spaces import get_space
    from ofa.subnet import SubnetConfig

    write_lut(directory, space_id)
    space, rows = get_space(space_id), []
    for i in range(n):
        cfg = SubnetConfig.sample(space, i).with_resolution(16)
        rows.append({"config": cfg.to_json(), "arch": cfg.arch_string(space), "r": 16, "purpose": "calibration",
                     "mean_ms": 2.0 + i, "median_ms": 2.0 + i, "std_ms": 0.1, "min_ms": 1.9 + i, "max_ms": 2.5 + i,
                     "count": 10, "rejected": 0, "anchor_ms": math.nan, "p75_ms": 2.1 + i, "p90_ms": 2.2 + i,
                     "p95_ms": 2.3 + i, "p99_ms": 2.4 + i, "measured_at": "2026-01-01T00:00:00+00:00"})
    save_e2e(directory, pd.DataFrame(rows, columns=list(E2E_COLUMNS)))
    return directory


def write_supernet(directory: Path, space_id: str = TINY) -> Path:
    from ofa.artifacts import ModelInfo, save_supernet
    from ofa.nn.supernet import OFASupernet
    from ofa.spaces import get_space

    return save_supernet(OFASupernet(get_space(space_id), 10), directory, ModelInfo(num_classes=10))


def write_acc_predictor(directory: Path, space_id: str = TINY) -> Path:
    """A linear accuracy predictor (one member, no hidden layer) with fixed weights."""
    from ofa.search.acc_predictor import AccuracyPredictor
    from ofa.search.encoding import feature_size
    from ofa.spaces import get_space

    space = get_space(space_id)
    weights = np.linspace(-0.1, 0.1, feature_size(space), dtype=np.float32)[:, None]
    return AccuracyPredictor(space, [[weights, np.zeros(1, np.float32)]], 0.5, 0.1).save(directory)
