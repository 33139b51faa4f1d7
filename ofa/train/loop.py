"""The progressive-shrinking loop, top to bottom: for each stage of the schedule, step; log; checkpoint;
then make the teacher, validate the reference sub-networks and checkpoint; finally write the supernet.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import ofa.train.ddp as ddp
from ofa.artifacts import ModelInfo
from ofa.data import resize_batch
from ofa.errors import ConfigError
from ofa.locks import directory_lock
from ofa.nn.supernet import OFASupernet
from ofa.train.checkpoint import rng_state, save_checkpoint
from ofa.train.config import StageConfig, TrainConfig
from ofa.train.distill import teacher_logits, training_loss
from ofa.train.metrics import Reporter
from ofa.train.prepare import CONFIG_YAML, SUPERNET_DIR, Run, build_optimizer, make_teacher, new_run, resumed_run
from ofa.train.sampling import batch_stream, step_resolution, step_subnets
from ofa.train.schedule import lr_at, warmup_steps
from ofa.train.transfer import set_frozen
from ofa.train.validate import save_validation, validate_stage

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_dir: Path
    supernet: OFASupernet
    validation: list[dict]
    global_step: int


def train(config: TrainConfig, out: "str | Path", reporter: Reporter | None = None) -> TrainResult:
    """Train a supernet through every stage of ``config.schedule`` into ``out`` (a new run directory)."""
    ctx = ddp.setup(config.device)
    try:
        with _writer_lock(Path(out), ctx):
            return run_schedule(new_run(config, Path(out), ctx, reporter))
    finally:
        ddp.teardown(ctx)


def resume(run_dir: "str | Path", overrides: tuple[str, ...] = (), reporter: Reporter | None = None) -> TrainResult:
    """Continue the run in ``run_dir`` exactly from its last checkpoint (``overrides``: resume-safe keys only)."""
    ctx = ddp.setup(_saved_device(Path(run_dir)))
    try:
        with _writer_lock(Path(run_dir), ctx):
            return run_schedule(resumed_run(Path(run_dir), ctx, tuple(overrides), reporter))
    finally:
        ddp.teardown(ctx)


def _writer_lock(run_dir: Path, ctx):
    """Rank 0 (the only rank that writes) holds the run directory's lock: a second run into it fails fast."""
    if not ctx.is_main:
        return contextlib.nullcontext()
    return directory_lock(run_dir, "train", "two runs into one directory would overwrite each other's checkpoints")


def run_schedule(run: Run) -> TrainResult:
    while run.state.stage < len(run.config.schedule):
        run_stage(run, run.state.stage)
    return finish(run)


def run_stage(run: Run, index: int) -> None:
    config, stage, ctx = run.config, run.config.schedule[index], run.ctx
    total = run.stage_total(index)
    warmup = warmup_steps(stage.warmup_epochs, config.epochs_scale, run.steps_per_epoch, total)
    if run.state.step == 0 and stage.reorganize_channels:
        run.net.reorganize_channels()
    run.frozen = run.family.frozen_modules(run.net, stage.freeze_stages)
    set_frozen(run.net, run.frozen)
    optimizer = build_optimizer(run.net, config, stage.lr)
    if run.optimizer_state is not None and run.state.step > 0:
        optimizer.load_state_dict(run.optimizer_state)
    run.optimizer_state = None
    stream = batch_stream(run.source, config.batch_size, config.seed, index, run.state.step, ctx.rank, ctx.world_size,
                          config.workers, config.augment)
    run.reporter.start_stage(stage.name, index, len(config.schedule), total, run.state.step)
    window = _Window()
    for step in range(run.state.step, total):
        images, labels = next(stream)
        r = step_resolution(config.seed, index, step, stage.r)
        images, labels = resize_batch(images.to(ctx.device), r), labels.to(ctx.device)
        if config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        lr = lr_at(step, total, warmup, stage.lr, config.optim.min_lr)
        for group in optimizer.param_groups:
            group["lr"] = lr
        configs = step_subnets(run.space, stage, config.seed, index, step, r)
        window.add(train_step(run, optimizer, stage, configs, images, labels), time.perf_counter())
        run.state.step, run.state.global_step = step + 1, run.state.global_step + 1
        record = None
        if (step + 1) % config.log_every == 0 or step + 1 == total:
            record = window.record(run, stage, index, lr, r)
            if run.metrics:
                run.metrics.write(record)
        run.reporter.advance(step + 1, record)
        if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < total:
            checkpoint(run, optimizer)
    run.reporter.end_stage()
    run.frozen = []
    set_frozen(run.net, run.frozen)
    end_stage(run, index)


def train_step(run: Run, optimizer: torch.optim.Optimizer, stage: StageConfig, configs: list,
               images: torch.Tensor, labels: torch.Tensor) -> dict:
    """One optimizer step: gradients summed over the step's sub-networks, averaged across ranks."""
    loss_cfg, net = run.config.loss, run.net
    net.train()
    for module in getattr(run, "frozen", ()):  # frozen BN keeps its statistics
        module.eval()
    optimizer.zero_grad(set_to_none=True)
    try:
        inplace = stage.kd_source == "inplace"
        soft = teacher_logits(run.teacher, images) if stage.kd_weight > 0 and not inplace else None
        sums = {"loss": 0.0, "ce": 0.0, "kd": 0.0, "acc": 0.0}
        for i, cfg in enumerate(configs):
            net.set_active(cfg)
            logits = net(images)
            loss, parts = training_loss(logits, labels, soft, stage.kd_weight, loss_cfg.ce_weight,
                                        loss_cfg.label_smoothing, loss_cfg.kd_temperature)
            if inplace and i == 0 and stage.kd_weight > 0:  # the largest teaches the rest of this step (BigNAS)
                soft = logits.detach()
            loss.backward()
            sums["loss"] += float(loss.detach())
            sums["ce"] += parts["ce"]
            sums["kd"] += parts.get("kd", 0.0)
            sums["acc"] += float((logits.detach().argmax(1) == labels).float().mean())
    except (torch.OutOfMemoryError, RuntimeError) as exc:
        if isinstance(exc, torch.OutOfMemoryError) or "can't allocate memory" in str(exc):
            raise ConfigError(f"out of memory training {len(labels)} images per rank at resolution {images.shape[-1]}: lower "
                              "batch_size in a new run (--out NEW_DIR --set batch_size=...) or train on more ranks") from None
        raise
    ddp.all_reduce_grads([p for p in net.parameters()], run.ctx)
    optimizer.step()
    return {k: v / len(configs) for k, v in sums.items()}


def end_stage(run: Run, index: int) -> None:
    """Teacher (after the teacher stage), validation of the reference sub-networks, stage-end checkpoint."""
    stage = run.config.schedule[index]
    if stage.name == run.config.loss.teacher_stage:
        run.teacher = make_teacher(run.net, run.config)
    ddp.average_buffers(run.net, run.ctx)
    rows = ddp.on_main(run.ctx, lambda: validate_stage(run.net, run.source, run.config.validation, stage.name, run.ctx.device))
    run.state.validation += rows
    if run.ctx.is_main:
        save_validation(run.run_dir, run.state.validation)
        for row in rows:
            run.metrics.write({"event": "validation", "step": run.state.global_step, "stage": stage.name,
                               "subnet": row["subnet"], "top1": row["top1"], "r": row["r"]})
    run.state.stage, run.state.step = index + 1, 0
    checkpoint(run, None)


def checkpoint(run: Run, optimizer: torch.optim.Optimizer | None) -> None:
    """Collective: gathers every rank's RNG state and averages BN statistics; rank 0 writes."""
    ddp.average_buffers(run.net, run.ctx)
    rng = ddp.gather_objects(rng_state(), run.ctx)
    if run.ctx.is_main:
        save_checkpoint(run.run_dir, config=run.config.to_dict(), state=run.state, model=_cpu(run.net.state_dict()),
                        optimizer=optimizer.state_dict() if optimizer else None,
                        teacher=_cpu(run.teacher.state_dict()) if run.teacher is not None else None,
                        rng=rng, world_size=run.ctx.world_size)
    ddp.barrier(run.ctx)


def finish(run: Run) -> TrainResult:
    """Write the supernet artifact (rank 0) and return the trained network."""
    run.net.set_active(run.family.largest())
    ddp.average_buffers(run.net, run.ctx)
    out = run.run_dir / SUPERNET_DIR
    if run.ctx.is_main:
        source = run.source
        info = ModelInfo(num_classes=run.net.num_classes, mean=tuple(source.mean), std=tuple(source.std), labels=list(source.classes),
                         dropout=run.config.dropout, config={"command": "train", **run.config.to_dict()},
                         inputs={"data": {"name": source.name, **source.fingerprint}})
        run.family.save(run.net.cpu(), out, info)
        run.net.to(run.ctx.device)
        run.metrics.close()
        log.info("supernet written to %s (%d steps)", out, run.state.global_step)
    ddp.barrier(run.ctx)
    return TrainResult(run.run_dir, run.net.eval(), run.state.validation, run.state.global_step)


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu() for k, v in state.items()}


def _saved_device(run_dir: Path) -> str:
    """The run's ``device`` setting from its config.yaml (``auto`` where this rank cannot see the file)."""
    from ofa.train.config import read_yaml

    path = run_dir / CONFIG_YAML
    if not path.is_file():
        return "auto"
    try:
        return str(read_yaml(path).get("device", "auto"))
    except ConfigError as exc:
        raise ConfigError(f"{exc}. It is the saved config of run {run_dir}: restore it, or delete it to resume "
                          "(the checkpoint holds the config and --resume rewrites the file; the device is then "
                          "chosen automatically)") from None


class _Window:
    """Running means of step statistics between two log records."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count, self.t0 = 0, time.perf_counter()

    def add(self, stats: dict, now: float) -> None:
        for key, value in stats.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count, self.now = self.count + 1, now

    def record(self, run: Run, stage: StageConfig, index: int, lr: float, r: int) -> dict:
        elapsed = max(1e-9, self.now - self.t0)
        record = {"event": "train", "step": run.state.global_step, "stage": stage.name, "stage_index": index,
                  "stage_step": run.state.step, "epoch": round(run.state.step / run.steps_per_epoch, 4),
                  **{k: v / self.count for k, v in self.sums.items()}, "lr": lr, "r": r,
                  "images_per_s": self.count * run.config.batch_size / elapsed, "time": time.time()}
        self.__init__()
        return record
