"""Everything a run needs before its first step: data, supernet, teacher, optimizer, and resume state.

``new_run`` starts a run in an empty directory; ``resumed_run`` rebuilds the exact state of the
last checkpoint (rank 0 reads it and broadcasts it, so other ranks never touch the run directory).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from torch import nn

import ofa.train.ddp as ddp
from ofa.data import open_dataset
from ofa.data.source import DataSource
from ofa.errors import ArtifactError, ConfigError, DataError
from ofa.io import atomic_write_text
from ofa.nn.supernet import OFASupernet
from ofa.spaces import SearchSpace
from ofa.train.checkpoint import CHECKPOINT, RunState, load_checkpoint, set_rng_state, state_from
from ofa.train.config import RESUME_SAFE_KEYS, TrainConfig, changed_keys, parse_override, resolve, set_path
from ofa.train.ddp import DistContext
from ofa.train.family import TrainFamily, family_for, train_space
from ofa.train.metrics import LogReporter, MetricsLog, Reporter
from ofa.train.sampling import mix, steps_per_epoch
from ofa.train.schedule import stage_steps

log = logging.getLogger(__name__)
CONFIG_YAML = "config.yaml"
SUPERNET_DIR = "supernet"


@dataclass
class Run:
    """The live state of a training run (what the loop reads and updates)."""

    config: TrainConfig
    run_dir: Path
    ctx: DistContext
    space: SearchSpace
    source: DataSource
    net: OFASupernet
    teacher: nn.Module | None
    state: RunState
    reporter: Reporter
    metrics: MetricsLog | None
    optimizer_state: dict | None = None  # restored into the current stage's optimizer, then dropped
    steps_per_epoch: int = 0
    totals: list[int] = field(default_factory=list)
    frozen: list[nn.Module] = field(default_factory=list)  # modules the current stage does not train

    @property
    def family(self) -> TrainFamily:
        return family_for(self.space)

    def stage_total(self, index: int) -> int:
        return self.totals[index]


# ----- starting and resuming -------------------------------------------------------------------
def new_run(config: TrainConfig, run_dir: Path, ctx: DistContext, reporter: Reporter | None = None) -> Run:
    ddp.on_main(ctx, lambda: _check_empty(run_dir))
    space, source = train_space(config.space, config.init), open_dataset(config.data)
    config.num_classes = _head_classes(config, source)
    torch.manual_seed(config.seed)  # the same initial weights on every rank (broadcast below makes sure)
    net = build_supernet(config, space).to(ctx.device)
    ddp.broadcast_module(net, ctx)
    net = place(net, config, ctx.device)
    torch.manual_seed(mix(config.seed, "rank", ctx.rank) % (2**63))  # per-rank augmentation draws
    run = _assemble(config, run_dir, ctx, space, source, net, None, RunState(), reporter)  # checks before any write
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_config(run_dir, config)
    return run


def resumed_run(run_dir: Path, ctx: DistContext, overrides: tuple[str, ...] = (), reporter: Reporter | None = None) -> Run:
    payload = ddp.on_main(ctx, lambda: load_checkpoint(run_dir))
    ddp.on_main(ctx, lambda: _check_checkpoint_belongs(run_dir, payload["config"]))
    config = _resume_config(payload["config"], overrides)
    space, source = train_space(config.space, config.init), open_dataset(config.data)
    _head_classes(config, source)
    net = build_supernet(config, space)
    net.load_state_dict(payload["model"])
    teacher = None
    if payload["teacher"] is not None:
        teacher = _static_largest(net)
        teacher.load_state_dict(payload["teacher"])
    state = state_from(payload)
    _restore_rng(payload, ctx, state)
    if ctx.is_main:
        write_config(run_dir, config)
        MetricsLog(run_dir, tensorboard=False).truncate_after(state.global_step)
    run = _assemble(config, run_dir, ctx, space, source, place(net, config, ctx.device), teacher, state, reporter)
    run.optimizer_state = payload["optimizer"]
    log.info("resuming %s at stage %d/%d, step %d (global step %d)", run_dir, state.stage + 1, len(config.schedule),
             state.step, state.global_step)
    return run


def _assemble(config, run_dir, ctx, space, source, net, teacher, state, reporter) -> Run:
    if config.batch_size % ctx.world_size:
        raise ConfigError(f"batch_size {config.batch_size} (global) must be divisible by the number of ranks ({ctx.world_size})")
    per_epoch = steps_per_epoch(source, config.batch_size)
    if per_epoch < 1:
        raise DataError(f"dataset {source.name} has {len(source.split('train').labels)} training images, fewer than one "
                        f"batch of {config.batch_size}; lower batch_size")
    if config.threads:
        torch.set_num_threads(config.threads)
    totals = [stage_steps(s.epochs, config.epochs_scale, per_epoch) for s in config.schedule]
    metrics = MetricsLog(run_dir, config.tensorboard) if ctx.is_main else None  # opens files lazily
    reporter = (reporter or LogReporter()) if ctx.is_main else _Silent()
    if teacher is not None:
        teacher = place(teacher, config, ctx.device).eval().requires_grad_(False)
    return Run(config, run_dir, ctx, space, source, net, teacher, state, reporter, metrics, None, per_epoch, totals)


def _check_checkpoint_belongs(run_dir: Path, checkpoint_config: dict) -> None:
    """Refuse a checkpoint swapped in from another run: its config must match the run's config.yaml.

    Only the keys a resume may not change are compared. A config.yaml that is missing or unreadable is
    not checked here: resuming rewrites it from the checkpoint.
    """
    try:
        saved = yaml.safe_load((run_dir / CONFIG_YAML).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError):
        return
    if not isinstance(saved, dict):
        return
    differ = [k for k in changed_keys(saved, checkpoint_config) if k.split(".")[0] not in RESUME_SAFE_KEYS]
    if differ:
        details = ", ".join(f"{k} (checkpoint {_lookup(checkpoint_config, k)!r}, config.yaml {_lookup(saved, k)!r})"
                            for k in differ[:5])
        raise ArtifactError(f"{run_dir / CHECKPOINT} does not belong to the run in {run_dir}: its config differs from "
                            f"{CONFIG_YAML} in {details}. Put the run's own checkpoint back, or start a new run "
                            "(--out NEW_DIR)")


def _resume_config(old: dict, overrides: tuple[str, ...]) -> TrainConfig:
    raw = yaml.safe_load(yaml.safe_dump(old))  # a deep copy
    for key, value in map(parse_override, overrides):
        set_path(raw, key, value)
    config = resolve(raw)
    unsafe = [k for k in changed_keys(old, config.to_dict()) if k.split(".")[0] not in RESUME_SAFE_KEYS]
    if unsafe:
        details = ", ".join(f"{k} (was {_lookup(old, k)!r})" for k in unsafe)
        raise ConfigError(f"cannot change {details} when resuming: the run would not continue the same training. "
                          f"A resumed run may only change {list(RESUME_SAFE_KEYS)}. If the batch does not fit in memory, "
                          "start a new run (--out NEW_DIR) with a smaller batch_size, or resume on more ranks.")
    return config


def _lookup(data: dict, key: str):
    for part in key.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _restore_rng(payload: dict, ctx: DistContext, state: RunState) -> None:
    if payload["world_size"] == ctx.world_size:
        set_rng_state(payload["rng"][ctx.rank])
        return
    log.warning("checkpoint was written by %d ranks, resuming on %d: augmentation draws are re-seeded (sub-networks, "
                "resolutions and batch order are unchanged)", payload["world_size"], ctx.world_size)
    torch.manual_seed(mix(payload["config"]["seed"], "rank", ctx.rank, state.global_step) % (2**63))


def _check_empty(run_dir: Path) -> None:
    if any((run_dir / name).exists() for name in (CHECKPOINT, CONFIG_YAML, SUPERNET_DIR)):
        raise ConfigError(f"{run_dir} already holds a training run; continue it with `ofa train --resume {run_dir}` "
                          "or choose another --out")


def _head_classes(config: TrainConfig, source: DataSource) -> int:
    """The head's class count: the dataset's, unless a kept init head or num_classes says otherwise (then they must agree)."""
    head = config.num_classes
    if head is None and config.init and config.head != "new":
        from ofa.train.transfer import init_head_classes

        init_classes = init_head_classes(config.init)
        if config.head == "keep" or init_classes == source.num_classes:
            head = init_classes
    head = head or source.num_classes
    if head != source.num_classes:
        relation = "fewer" if source.num_classes < head else "more"
        fix = ("set head: auto (a new classifier for the dataset's classes)" if config.init and config.head == "keep"
               else f"set num_classes: {source.num_classes} or use a dataset with {head} classes")
        raise DataError(f"dataset {config.data!r} has {source.num_classes} classes, {relation} than the network head's "
                        f"{head} (num_classes{' / init supernet' if config.init else ''}); {fix}")
    return head


# ----- models ----------------------------------------------------------------------------------
def build_supernet(config: TrainConfig, space) -> OFASupernet:
    """A new supernet of ``space`` (an ``OFASupernet``, or an ``OFAResNet``), holding ``config.init``'s weights if given."""
    net = family_for(space).build(config.num_classes, config.dropout)
    if config.init:
        from ofa.train.transfer import inherit_weights, load_init

        start = load_init(config.init, space if not isinstance(space, SearchSpace) else None)
        if start.space.id != space.id or type(start.space) is not type(space):
            raise ConfigError(f"init supernet {config.init} is for space {start.space.id}, not {space.id}; set space: {start.space.id}")
        inherit_weights(net, start, new_head=config.head == "new" or start.num_classes != config.num_classes)
    return net


def _static_largest(net: OFASupernet) -> nn.Module:
    family = family_for(net.space)
    with torch.random.fork_rng():  # building a module draws initial weights; keep the training RNG as it is
        return family.static(family.largest(), net.num_classes, net.dropout_rate)


def make_teacher(net: OFASupernet, config: TrainConfig) -> nn.Module:
    """A frozen static copy of the full network (largest sub-network), for knowledge distillation."""
    with torch.random.fork_rng():
        teacher = net.extract(family_for(net.space).largest())
    return place(teacher, config, next(net.parameters()).device).eval().requires_grad_(False)


def place(module: nn.Module, config: TrainConfig, device: torch.device) -> nn.Module:
    """Move ``module`` to ``device`` in the configured memory format."""
    return module.to(device, memory_format=torch.channels_last if config.channels_last else torch.contiguous_format)


def build_optimizer(net: OFASupernet, config: TrainConfig, lr: float) -> torch.optim.SGD:
    """SGD with Nesterov momentum; no weight decay on BN parameters and biases (1-d tensors) by default."""
    opt = config.optim
    decay = [p for p in net.parameters() if p.ndim > 1 or not opt.no_decay_bn_bias]
    no_decay = [p for p in net.parameters() if p.ndim <= 1 and opt.no_decay_bn_bias]
    groups = [{"params": decay, "weight_decay": opt.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.SGD(groups, lr=lr, momentum=opt.momentum, nesterov=opt.nesterov and opt.momentum > 0)


def write_config(run_dir: Path, config: TrainConfig) -> None:
    atomic_write_text(run_dir / CONFIG_YAML, yaml.safe_dump(config.to_dict(), sort_keys=False, default_flow_style=None))


class _Silent:
    def start_stage(self, *args) -> None: ...
    def advance(self, *args) -> None: ...
    def end_stage(self) -> None: ...
