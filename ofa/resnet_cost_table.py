"""Additive costs of an OFA-ResNet space as dense tables: FLOPs, parameters, LUT latency.

A ResNet sub-network is stem -> bottleneck blocks -> head, and every part's shape is fixed by a few
choices: the stem by (r, w[0], w[1], whether its residual conv runs), a block by (r, slot, its input
width index, its stage's width index, its expand index), the head by (r, last stage's width index).
A block's input width is the previous stage's (the stem's for the first stage) in a stage's first slot,
and its own stage's elsewhere, so the cost of any config is a sum of three gathers:
``stem[r, w0, w1, res] + sum over running slots of block[r, slot, w_in, w_out, e] + head[r, w_last]``.
The exact minimum over the space is a dynamic programme over the stages (state: the previous width).
Resolutions a table does not cover hold ``inf`` in ``stem`` (see :attr:`ResNetAdditiveCost.r_allowed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ofa.resnet_population import ResNetPopulation, active_mask, layout, stem_residual
from ofa.spaces.resnet import ResNetConfig, ResNetSpace

#: part descriptions handed to the functions that fill a table
StemFn = Callable[[int, int, int, bool], float]  # (r, mid channels, stem channels, residual conv runs)
BlockFn = Callable[[int, int, int, int, int, int, bool], float]  # (r, in size, cin, mid, cout, stride, downsample)
HeadFn = Callable[[int, int, int], float]  # (r, in size, channels)


def conv_size(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


def slot_inputs(space: ResNetSpace, r: int) -> list[tuple[int, int, bool]]:
    """Per block slot at resolution ``r``: (input size, stride, first of its stage); and the head's input size last."""
    size = conv_size(conv_size(r, 2), 2)  # stem stride 2, then 3x3 max pooling stride 2
    out = []
    for s, slots in enumerate(space.stage_blocks):
        for i, _ in enumerate(slots):
            stride = space.strides[s] if i == 0 else 1
            out.append((size, stride, i == 0))
            size = conv_size(size, stride)
    return out + [(size, 1, False)]


def width_columns(space: ResNetSpace) -> tuple[np.ndarray, np.ndarray]:
    """(slots,) column indices into the ``w`` genes of each slot's input width and output width."""
    w_in, w_out = [], []
    for s, slots in enumerate(space.stage_blocks):
        for i, _ in enumerate(slots):
            w_out.append(2 + s)
            w_in.append((1 if s == 0 else 1 + s) if i == 0 else 2 + s)
    return np.array(w_in), np.array(w_out)


@dataclass
class ResNetAdditiveCost:
    """``cost(config) = stem[r, w0, w1, res] + sum of block[r, slot, w_in, w_out, e] over running slots
    + head[r, w_last]``."""

    space: ResNetSpace
    stem: np.ndarray  # (R, W, W, 2); inf at resolutions the cost is not defined at
    block: np.ndarray  # (R, slots, W, W, E)
    head: np.ndarray  # (R, W)

    def __call__(self, pop: ResNetPopulation) -> np.ndarray:
        lay, (w_in, w_out) = layout(self.space), width_columns(self.space)
        d, e, w, r = pop.genes[:, lay.d], pop.genes[:, lay.e], pop.genes[:, lay.w], pop.r
        _, slots, nw, _, ne = self.block.shape
        index = (((r[:, None] * slots + np.arange(slots)) * nw + w[:, w_in]) * nw + w[:, w_out]) * ne + e
        per_slot = self.block.reshape(-1).take(index)
        total = self.stem[r, w[:, 0], w[:, 1], stem_residual(self.space, d).astype(np.int64)]
        return total + (per_slot * active_mask(self.space, d)).sum(axis=1) + self.head[r, w[:, -1]]

    def config_cost(self, cfg: ResNetConfig) -> float:
        return float(self(ResNetPopulation.from_configs(self.space, [cfg]))[0])

    @property
    def r_allowed(self) -> np.ndarray:
        """Resolution indices this cost is defined at (a LUT may cover only some)."""
        return np.flatnonzero(np.isfinite(self.stem.reshape(len(self.stem), -1)).all(axis=1))

    def minimum(self) -> tuple[float, ResNetPopulation]:
        """The exact minimum over the whole space and one config reaching it."""
        best = min((self._minimum_at(ri) for ri in self.r_allowed), key=lambda item: item[0], default=None)
        if best is None:
            return float("inf"), ResNetPopulation.from_configs(self.space, [ResNetConfig.smallest(self.space)])
        return best

    def _minimum_at(self, ri: int) -> tuple[float, ResNetPopulation]:
        """The cheapest config at resolution index ``ri``: the stem's best (w0, residual) per stem width, then a
        dynamic programme over the stages whose state is the previous stage's width index."""
        space, lay = self.space, layout(self.space)
        state, stem_pick = self._stem_options(ri)
        e_min, e_arg = self.block[ri].min(axis=-1), self.block[ri].argmin(axis=-1)  # (slots, W_in, W_out)
        trail = []  # per stage: (best previous width per width, best depth index per width)
        for s, slots in enumerate(space.stage_blocks):
            rest = np.array([np.diagonal(e_min[k]) for k in slots[1:]]).reshape(len(slots) - 1, -1)  # in = out
            extra = np.stack([rest[:space.base_depths[s] + d - 1].sum(axis=0) for d in space.d_choices])  # (D, W)
            total = state[:, None] + e_min[slots[0]] + extra.min(axis=0)[None, :]  # (W_prev, W)
            trail.append((total.argmin(axis=0), extra.argmin(axis=0)))
            state = total.min(axis=0)
        widths = [int((state + self.head[ri]).argmin())]
        for prev, _ in reversed(trail):
            widths.append(int(prev[widths[-1]]))
        widths = widths[::-1]  # the stem's width, then one per stage
        w0, residual = stem_pick[widths[0]]
        nd, top = len(space.d_choices), int(np.argmax(space.d_choices))
        genes = np.zeros(lay.width, dtype=np.int64)
        stage_d = [d_arg[widths[1 + s]] for s, (_, d_arg) in enumerate(trail)]
        genes[lay.d] = [top if residual else (top + 1) % nd] + stage_d
        genes[lay.w] = [w0, *widths]
        w_in, w_out = width_columns(space)
        genes[lay.e] = [e_arg[k, genes[lay.w][w_in[k]], genes[lay.w][w_out[k]]] for k in range(space.n_blocks)]
        genes[-1] = ri
        pop = ResNetPopulation(genes[None, :], space)
        return float(self(pop)[0]), pop

    def _stem_options(self, ri: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """Per stem width index: the stem's least cost, and the (w0, residual runs) reaching it (the residual
        can be dropped only when ``d`` has a choice below the largest: the stem-skipping rule)."""
        stem = self.stem[ri]  # (W0, W1, residual)
        if len(self.space.d_choices) == 1:
            flat = stem[:, :, 1].T
            return flat.min(axis=1), [(int(c), 1) for c in flat.argmin(axis=1)]
        flat = stem.transpose(1, 0, 2).reshape(stem.shape[1], -1)
        return flat.min(axis=1), [divmod(int(c), 2) for c in flat.argmin(axis=1)]

def build_resnet_table(space: ResNetSpace, stem_fn: StemFn, block_fn: BlockFn, head_fn: HeadFn,
                       resolutions: "set[int] | None" = None) -> ResNetAdditiveCost:
    """Fill a :class:`ResNetAdditiveCost` from per-part functions (``inf`` at resolutions outside ``resolutions``)."""
    R, S, W, E = len(space.resolutions), space.n_blocks, len(space.w_choices), len(space.e_choices)
    stem, block, head = np.full((R, W, W, 2), np.inf), np.full((R, S, W, W, E), np.inf), np.full((R, W), np.inf)
    stage_of = [s for s, slots in enumerate(space.stage_blocks) for _ in slots]
    for ri, r in enumerate(space.resolutions):
        if resolutions is not None and r not in resolutions:
            continue
        for w0 in range(W):
            for w1 in range(W):
                for res in (0, 1):
                    stem[ri, w0, w1, res] = stem_fn(r, space.stem_mid_channels(w0), space.stem_channels(w1), bool(res))
        inputs = slot_inputs(space, r)
        for slot, (size, stride, first) in enumerate(inputs[:-1]):
            s = stage_of[slot]
            for wi in range(W):
                cin_of = space.stem_channels(wi) if s == 0 else space.stage_channels(s - 1, wi)
                for wo in range(W):
                    cout = space.stage_channels(s, wo)
                    cin = cin_of if first else cout
                    for ei, e in enumerate(space.e_choices):
                        block[ri, slot, wi, wo, ei] = block_fn(r, size, cin, ResNetSpace.mid_channels(cout, e), cout,
                                                               stride, first)
        for w in range(W):
            head[ri, w] = head_fn(r, inputs[-1][0], space.stage_channels(len(space.base_depths) - 1, w))
    return ResNetAdditiveCost(space, stem, block, head)


def _conv(cin: int, out: int, k: int, out_size: int) -> tuple[int, int]:
    """(MACs, params with BN affine) of a k x k conv + BN, as :func:`ofa.nn.resnet.resnet_cost` counts them."""
    return cin * out * k * k * out_size * out_size, cin * out * k * k + 2 * out


def _complexity_table(space: ResNetSpace, num_classes: int, part: int) -> ResNetAdditiveCost:
    """``part`` 0: MACs, 1: parameters (both in millions)."""
    def stem(r: int, mid: int, channels: int, residual: bool) -> float:
        size = conv_size(r, 2)
        convs = [_conv(3, mid, 3, size), _conv(mid, channels, 3, size)]
        convs += [_conv(mid, mid, 3, size)] if residual else []
        return sum(c[part] for c in convs) / 1e6

    def block(r: int, size: int, cin: int, mid: int, cout: int, stride: int, downsample: bool) -> float:
        out = conv_size(size, stride)
        convs = [_conv(cin, mid, 1, size), _conv(mid, mid, 3, out), _conv(mid, cout, 1, out)]
        return sum(c[part] for c in convs + ([_conv(cin, cout, 1, out)] if downsample else [])) / 1e6

    def head(r: int, size: int, channels: int) -> float:
        return (channels * num_classes + (num_classes if part else 0)) / 1e6

    return build_resnet_table(space, stem, block, head)


def resnet_flops_table(space: ResNetSpace, num_classes: int) -> ResNetAdditiveCost:
    """MACs in millions; equals :func:`ofa.nn.resnet.resnet_cost` (tests/test_resnet_search.py)."""
    return _complexity_table(space, num_classes, 0)


def resnet_params_table(space: ResNetSpace, num_classes: int) -> ResNetAdditiveCost:
    """Parameters in millions; equals :func:`ofa.nn.resnet.resnet_cost`."""
    return _complexity_table(space, num_classes, 1)
