"""Data-parallel training across processes (``torchrun``): NCCL on GPUs, gloo on CPUs, one or many nodes.

Every rank trains the *same* sub-networks at the *same* resolution on its own shard of each batch
(the sampling seeds derive from the global step, never from the rank). Gradients are summed
locally over the step's sub-networks and then averaged across ranks in one flat all-reduce —
the ``DistributedDataParallel`` reducer is not used because an elastic supernet leaves a different
set of parameters unused at every step, which DDP only handles through its slower
``find_unused_parameters`` mode. BN running statistics are averaged before they are used (at
checkpoints, validation and the end). Only rank 0 reads or writes the run directory; what it reads
is broadcast, so the run directory need not be on a shared file system.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from ofa.errors import ConfigError, OFAError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> DistContext:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1); else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was requested but torch sees no CUDA GPU; use device: cpu (or auto)")
    torch_device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(torch_device)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=60))
        log.info("rank %d/%d joined the %s process group (device %s)", rank, world, backend, torch_device)
    return DistContext(rank, world, local_rank, torch_device)


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


@torch.no_grad()
def all_reduce_grads(params: list[nn.Parameter], ctx: DistContext) -> None:
    """Average the gradients of ``params`` across ranks (params without a gradient are skipped;
    every rank ran the same sub-networks, so every rank skips the same ones)."""
    if not ctx.enabled:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


@torch.no_grad()
def average_buffers(module: nn.Module, ctx: DistContext) -> None:
    """Average floating-point buffers (BN running statistics) across ranks."""
    if not ctx.enabled:
        return
    buffers = [b for b in module.buffers() if b.is_floating_point()]
    flat = torch.cat([b.reshape(-1) for b in buffers])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for b in buffers:
        b.copy_(flat[offset : offset + b.numel()].view_as(b))
        offset += b.numel()


@torch.no_grad()
def broadcast_module(module: nn.Module, ctx: DistContext) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not ctx.enabled:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank (in-memory transfer between this run's own processes)."""
    if not ctx.enabled:
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0, device=ctx.device if ctx.device.type == "cuda" else None)
    return box[0]


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
    if not ctx.enabled:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def on_main(ctx: DistContext, func: Callable[[], Any]) -> Any:
    """Run ``func`` on rank 0 only and give its result to every rank; an error there is raised on every rank."""
    result, error, original = None, None, None
    if ctx.is_main:
        try:
            result = func()
        except Exception as exc:  # re-raised below on rank 0, and as the same user error on the others
            original, error = exc, (type(exc).__name__, str(exc))
    result, error = broadcast_object((result, error), ctx)
    if original is not None:
        raise original
    if error is not None:
        import ofa.errors

        raise getattr(ofa.errors, error[0], OFAError)(f"(on rank 0) {error[1]}")
    return result
