"""Small real artifacts on disk for the bad-input tests: a latency table with made-up timings (written by
the library's own writer), a supernet directory and an accuracy predictor directory."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

TINY = "ofa_tiny_in32_d12_e34_k35_w1.0"
IN32 = "ofa_mbv3_in32_d234_e346_k357_w1.0"


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
