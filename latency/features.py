"""Analytic per-block features for the predictor fitted from end-to-end measurements alone.

Per block: dense (non-depthwise) conv/linear MACs, depthwise MACs, activation elements read and
written (all in millions), and 1 (one block = one kernel-launch-ish overhead). A network's features
are the sums over its blocks, so the fitted model is linear in them and sums like a table.
"""

from __future__ import annotations

import numpy as np

from latency.blocks import LutBlock

FEATURES = ("dense_mmacs", "dw_mmacs", "act_melems", "blocks")


def block_features(b: LutBlock) -> np.ndarray:
    s2_in, s2_out = b.in_size ** 2, b.out_size ** 2
    dense = dw = 0.0
    act = s2_in * b.in_channels + s2_out * b.out_channels
    if b.kind == "mbconv":
        spec = b.spec
        mid = spec.mid_channels
        if spec.expand > 1:
            dense += spec.in_channels * mid * s2_in
            act += s2_in * mid
        dw += mid * spec.kernel ** 2 * s2_out
        dense += 2 * mid * spec.se_channels + mid * spec.out_channels * s2_out
        act += s2_out * mid * (2 if spec.se_channels else 1)
    elif b.kind == "stem":
        dense += 27 * b.out_channels * s2_out
    elif b.kind in ("final_expand", "feature_mix", "classifier"):
        dense += b.in_channels * b.out_channels * s2_out
    return np.array([dense / 1e6, dw / 1e6, act / 1e6, 1.0])


def block_mweights(b: LutBlock) -> float:
    """Weights (conv/linear parameters, millions) a block reads per inference: what a network streams from memory
    while a micro-model keeps them cached (see :class:`latency.predictors.CalibratedSumPredictor`)."""
    if b.kind == "mbconv":
        spec = b.spec
        mid = spec.mid_channels
        expand = spec.in_channels * mid if spec.expand > 1 else 0
        return (expand + mid * spec.kernel ** 2 + 2 * mid * spec.se_channels + mid * spec.out_channels) / 1e6
    if b.kind == "stem":
        return 27 * b.out_channels / 1e6
    if b.kind in ("final_expand", "feature_mix", "classifier"):
        return b.in_channels * b.out_channels / 1e6
    return 0.0
