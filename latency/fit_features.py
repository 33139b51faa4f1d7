"""Per-block feature tables of the model families ``ofa latency fit`` chooses among.

Every family is linear in features that are sums over a network's blocks, so every fitted model is
itself a per-block table (``base[r] + sum of block[r, slot, k, e]``): the search scores it in
microseconds and finds its exact minimum, like a measured lookup table. Families:

- ``analytic``: dense MACs, depthwise MACs, activation elements, block count (:mod:`latency.features`);
  fitted non-negative, the predictor this project had (``fitted_e2e``).
- ``detailed``: ``analytic`` with the depthwise MACs split by kernel size (a 7x7 depthwise kernel runs
  at another speed per MAC than a 3x3), the activation elements split by activation (h-swish costs
  more than ReLU), and squeeze-excite's count (its pooling and two small layers are launches, not
  MACs); fitted non-negative, like ``analytic``.
- ``kernel_stride``: ``detailed`` with the strided depthwise MACs also counted per kernel size apart: a
  runtime has one depthwise micro-kernel per (kernel, stride), and a slow one shows. Measured on LiteRT
  here: a 7x7 depthwise MAC costs 10x a 5x5 one, and a strided 7x7 one 1.4x more again; this split took
  the cross-validated share within +-10 % on 130 networks from 92 % (``detailed``) to 99 %.
  Fitted non-negative.
- ``onehot``: per (stage, kernel, expand) the count of such blocks, plain and scaled by (r / r_max)^2:
  a learned cost per block type, like a table without profiling.
- ``rich``: per stage dense MACs, depthwise MACs, activation elements and block count (kernel
  launches); per stage the count of each kernel size and of each expand ratio; the stem and head's MACs.
- ``reference``: a profiled device's table (``--reference-lut``), summed per network, with the block
  count: the target as a function of another device's block costs (HELP's transfer, simplest form).

The ridge families also get (r / r_max)^2 as a fixed column (with the fit's constant: a per-network
overhead that grows with the input). Resolution enters only through such continuous terms, never a
column per resolution, so a predictor also covers the resolutions between the measured ones.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from latency.blocks import LutBlock, fixed_blocks, slot_blocks
from latency.features import FEATURES, block_features
from latency.index import BlockIndex

FAMILIES = ("analytic", "detailed", "kernel_stride", "onehot", "rich", "reference")
DEFAULT_FAMILIES = ("analytic", "detailed", "kernel_stride", "onehot", "rich")  # reference needs a profiled table
NON_NEGATIVE = ("analytic", "detailed", "kernel_stride")  # fitted by NNLS: every coefficient is a cost
Tables = tuple[np.ndarray, np.ndarray]  # fixed (R, F), slots (R, S, K, E, F)


def feature_tables(index: BlockIndex, family: str, reference: Optional[dict] = None) -> tuple[Tables, list[str]]:
    """``(fixed, slots)`` feature tables of ``family`` over ``index`` and the feature names."""
    space = index.space
    names, fixed_fn, slot_fn = _family(index, family, reference)
    R, S, K, E, F = len(index.resolutions), space.n_block_slots, len(space.ks_choices), len(space.e_choices), len(names)
    fixed, slots = np.zeros((R, F)), np.zeros((R, S, K, E, F))
    for ri, r in enumerate(index.resolutions):
        for block in fixed_blocks(space, r, index.num_classes):
            fixed[ri] += fixed_fn(block, ri)
        for (s, k, e), block in slot_blocks(space, r).items():
            slots[ri, s, space.ks_choices.index(k), space.e_choices.index(e)] = slot_fn(block, ri, s, k, e)
    return (fixed, slots), names


def _family(index: BlockIndex, family: str, reference: Optional[dict]) -> tuple[list[str], Callable, Callable]:
    if family == "analytic":
        return list(FEATURES), lambda b, ri: block_features(b), lambda b, ri, s, k, e: block_features(b)
    if family in ("detailed", "kernel_stride"):
        return _detailed(index, by_stride=family == "kernel_stride")
    if family == "onehot":
        return _onehot(index)
    if family == "rich":
        return _rich(index)
    if family == "reference":
        if reference is None:
            raise ValueError("the reference family needs a reference table's block values")
        return _reference(index, reference)
    raise ValueError(f"unknown family {family!r}")


def _detailed(index: BlockIndex, by_stride: bool = False):
    kernels = list(index.space.ks_choices)
    names = ["dense_mmacs"] + [f"dw_k{k}_mmacs" for k in kernels] + ["act_melems_relu", "act_melems_hswish",
                                                                      "se_blocks", "blocks"]
    n_base = len(names)
    if by_stride:
        names += [f"dw_k{k}_s2_mmacs" for k in kernels]

    def features(block: LutBlock) -> np.ndarray:
        dense, dw, act, one = block_features(block)
        v = np.zeros(len(names))
        v[0], v[n_base - 1] = dense, one
        v[n_base - 3 if block.act == "h_swish" else n_base - 4] = act
        if block.kind == "mbconv":
            spec, k = block.spec, kernels.index(block.spec.kernel)
            v[1 + k] = dw
            v[n_base - 2] = 1.0 if spec.se_channels else 0.0
            if by_stride and spec.stride > 1:
                v[n_base + k] = dw
        return v

    return names, lambda b, ri: features(b), lambda b, ri, s, k, e: features(b)


def _resolution_columns(index: BlockIndex) -> list[str]:
    return ["r_sq"]


def _r_sq(index: BlockIndex, ri: int) -> float:
    """(r / r_max)^2 split over the fixed blocks of resolution index ``ri`` (their features sum to it)."""
    return (index.resolutions[ri] / max(index.resolutions)) ** 2 / index.n_fixed


def _onehot(index: BlockIndex):
    space, R = index.space, 1
    types = [(st, k, e) for st in range(space.n_stages) for k in space.ks_choices for e in space.e_choices]
    names = _resolution_columns(index) + [f"n_s{st}_k{k}_e{e}" for st, k, e in types]
    names += [f"n_s{st}_k{k}_e{e}_x_r2" for st, k, e in types]
    col = {t: i for i, t in enumerate(types)}
    r_max = max(index.resolutions)

    def fixed(block: LutBlock, ri: int) -> np.ndarray:
        v = np.zeros(len(names))
        v[0] = _r_sq(index, ri)
        return v

    def slot(block: LutBlock, ri: int, s: int, k: int, e: int) -> np.ndarray:
        v = np.zeros(len(names))
        j = col[(s // space.max_depth, k, e)]
        v[R + j], v[R + len(types) + j] = 1.0, (index.resolutions[ri] / r_max) ** 2
        return v

    return names, fixed, slot


def _rich(index: BlockIndex):
    space, R = index.space, 1
    per_stage = ["dense_mmacs", "dw_mmacs", "act_melems", "blocks"] + [f"k{k}" for k in space.ks_choices] + [
        f"e{e}" for e in space.e_choices]
    names = _resolution_columns(index) + [f"s{st}_{f}" for st in range(space.n_stages) for f in per_stage]
    names += ["fixed_dense_mmacs", "fixed_act_melems"]
    width = len(per_stage)

    def fixed(block: LutBlock, ri: int) -> np.ndarray:
        v = np.zeros(len(names))
        v[0] = _r_sq(index, ri)
        f = block_features(block)
        v[-2], v[-1] = f[0] + f[1], f[2]
        return v

    def slot(block: LutBlock, ri: int, s: int, k: int, e: int) -> np.ndarray:
        v = np.zeros(len(names))
        base = R + (s // space.max_depth) * width
        v[base:base + 4] = block_features(block)
        v[base + 4 + space.ks_choices.index(k)] = 1.0
        v[base + 4 + len(space.ks_choices) + space.e_choices.index(e)] = 1.0
        return v

    return names, fixed, slot


def _reference(index: BlockIndex, values: dict):
    R = 1
    names = _resolution_columns(index) + ["reference_block_sum_ms", "blocks"]

    def lookup(block: LutBlock) -> float:
        value = values.get(block.ident)
        if value is None:
            raise KeyError(block.ident)
        return float(np.asarray(value).ravel()[0])

    def fixed(block: LutBlock, ri: int) -> np.ndarray:
        v = np.zeros(R + 2)
        v[0], v[R], v[R + 1] = _r_sq(index, ri), lookup(block), 1.0
        return v

    def slot(block: LutBlock, ri: int, s: int, k: int, e: int) -> np.ndarray:
        v = np.zeros(R + 2)
        v[R], v[R + 1] = lookup(block), 1.0
        return v

    return names, fixed, slot
