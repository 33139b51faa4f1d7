"""What each step trains on: its batch shard, its resolution and its sub-networks.

All three derive from ``(seed, stage, step)`` alone — not from a running RNG and never from the
rank — so every DDP rank draws the same resolution and sub-networks, and a resumed run continues
with exactly the draws the uninterrupted run would have made.
"""

from __future__ import annotations

import hashlib
import random
from typing import Iterator

import torch
from torch.utils.data import Sampler

from ofa.data.source import DataSource
from ofa.train.config import StageConfig


def mix(*parts) -> int:
    """A 64-bit seed from any tuple of ints/strings (stable across processes and runs)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def step_resolution(seed: int, stage: int, step: int, choices: list[int]) -> int:
    return random.Random(mix(seed, "r", stage, step)).choice(choices)


def step_subnets(space, stage: StageConfig, seed: int, stage_index: int, step: int, r: int) -> list:
    """The sub-networks trained at this step, all at resolution ``r``.

    Uniform samples within the stage's choices; with ``sandwich`` the first two are the stage's
    largest and smallest sub-network (the BigNAS rule). ``space``: a ``SearchSpace`` or ``ResNetSpace``.
    """
    from ofa.train.family import family_for

    rngs = [random.Random(mix(seed, "subnet", stage_index, step, j)) for j in range(stage.subnets_per_step)]
    return family_for(space).stage_subnets(stage, rngs, r)


class ShardSampler(Sampler[int]):
    """One epoch of a seeded permutation, this rank's share of every global batch, from ``start_batch``.

    Global batch ``b`` is ``perm[b*B:(b+1)*B]`` whatever the number of ranks; rank ``k`` takes every
    ``world``-th image of it. The incomplete last batch is dropped.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int, world: int, start_batch: int = 0):
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed % (2**63)))
        usable = (n // batch_size) * batch_size
        self.indices = perm[start_batch * batch_size : usable][rank::world].tolist()

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def steps_per_epoch(source: DataSource, batch_size: int) -> int:
    return len(source.split("train").labels) // batch_size


def batch_stream(source: DataSource, batch_size: int, seed: int, stage: int, start_step: int,
                 rank: int = 0, world: int = 1, workers: int = 0,
                 augment: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's ``(images, labels)`` for steps ``start_step, start_step + 1, ...`` of a stage (endless)."""
    per_epoch = steps_per_epoch(source, batch_size)
    step = start_step
    while True:
        epoch, first = divmod(step, per_epoch)
        epoch_seed = mix(seed, "data", stage, epoch)
        sampler = ShardSampler(len(source.split("train").labels), batch_size, epoch_seed, rank, world, first)
        loader = source.loader("train", batch_size=batch_size // world, sampler=sampler, workers=workers,
                               seed=epoch_seed % (2**63), drop_last=True, train=augment)
        for images, labels in loader:
            yield images, labels
            step += 1
