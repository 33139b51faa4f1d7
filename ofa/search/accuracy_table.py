"""Measured accuracy of sampled sub-networks: the training data of the accuracy predictor.

For each of N sampled sub-networks (spread over the space and cycling through the resolutions):
extract it, recalibrate its BN on training images, evaluate top-1 on the validation split (never
used for training). Rows are appended to ``acc_table.csv`` atomically; an interrupted build keeps
what it measured and a re-run continues from there (the settings must match, or it refuses).
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import pandas as pd
import torch

from ofa.bn_calib import recalibrate_bn
from ofa.complexity import subnet_cost
from ofa.data import DataSource, resize_batch
from ofa.errors import ArtifactError
from ofa.io import atomic_write, atomic_write_json, read_json_file
from ofa.locks import directory_lock
from ofa.manifest import ManifestHeader
from ofa.nn.resnet import resnet_cost
from ofa.spaces.resnet import ResNetConfig, ResNetSpace
from ofa.subnet import SubnetConfig

log = logging.getLogger(__name__)
TABLE = "acc_table.csv"
MANIFEST = "acc_manifest.json"
HEADER = ManifestHeader("accuracy_table", 1, kind_optional=True)  # no kind before 0.1.0


def sample_configs(space, n: int, seed: int) -> list[SubnetConfig]:
    """N configs, uniformly random but cycling resolutions so every r is covered evenly (OFA-ResNet spaces too)."""
    rng = random.Random(seed)
    if isinstance(space, ResNetSpace):
        resolutions = space.resolutions
        return [replace(ResNetConfig.sample(space, rng.randrange(2**32)), r=resolutions[i % len(resolutions)])
                for i in range(n)]
    return [SubnetConfig.sample(space, rng, r=(space.resolutions[i % len(space.resolutions)],)) for i in range(n)]


class SubnetEvaluator:
    """Extract + BN-recalibrate + evaluate, with calibration and validation images cached in memory."""

    def __init__(self, supernet, source: DataSource, calib_images: int = 500, batch_size: int = 250,
                 split: str = "val", seed: int = 0, max_val_images: int | None = None):
        self.supernet, self.batch_size = supernet, batch_size
        self.calib = torch.cat(list(source.calibration_batches(calib_images, batch_size, seed=seed)))
        dataset = source.dataset(split, train=False)
        n = len(dataset) if max_val_images is None else min(len(dataset), max_val_images)
        items = [dataset[i] for i in range(n)]
        self.val_x = torch.stack([x for x, _ in items])
        self.val_y = torch.tensor([y for _, y in items])

    @torch.no_grad()
    def evaluate(self, cfg: SubnetConfig) -> dict:
        return self.accuracy(self.prepare(cfg), cfg.r)

    @torch.no_grad()
    def prepare(self, cfg: SubnetConfig) -> torch.nn.Module:
        """The static sub-network of ``cfg``, BN recalibrated on the cached calibration images."""
        net = self.supernet.extract(cfg)
        recalibrate_bn(net, (resize_batch(self.calib[i:i + self.batch_size], cfg.r)
                             for i in range(0, len(self.calib), self.batch_size)))
        return net

    @torch.no_grad()
    def accuracy(self, net: torch.nn.Module, r: int) -> dict:
        correct, loss = 0, 0.0
        for i in range(0, len(self.val_x), self.batch_size):
            logits = net(resize_batch(self.val_x[i:i + self.batch_size], r))
            target = self.val_y[i:i + self.batch_size]
            correct += int((logits.argmax(1) == target).sum())
            loss += float(torch.nn.functional.cross_entropy(logits, target, reduction="sum"))
        n = len(self.val_y)
        return {"top1": correct / n, "loss": loss / n, "val_images": n}


def _settings(supernet_hash: str, source: DataSource, n: int, seed: int, calib_images: int) -> dict:
    return {"supernet_sha256": supernet_hash, "data": source.name, "data_fingerprint": source.fingerprint,
            "samples": n, "seed": seed, "calib_images": calib_images}


def _check_resume(out: Path, settings: dict) -> pd.DataFrame | None:
    if not (out / MANIFEST).is_file():
        return None
    fix = "use another --out, or delete it and build again"
    old = HEADER.check(read_json_file(out / MANIFEST, "accuracy table manifest", ArtifactError, fix), out / MANIFEST, fix)
    old = old.get("settings") if isinstance(old.get("settings"), dict) else {}
    same = {k: v for k, v in settings.items() if k != "samples"} == {k: v for k, v in old.items() if k != "samples"}
    if not same:
        raise ArtifactError(f"{out} holds an accuracy table built with other settings ({old}); use another --out or delete it")
    return pd.read_csv(out / TABLE) if (out / TABLE).is_file() else None


def build_accuracy_table(supernet, source: DataSource, out: "str | Path", samples: int, supernet_hash: str = "",
                         seed: int = 0, calib_images: int = 500,
                         on_row: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Measure ``samples`` sub-networks into ``out/acc_table.csv`` (resumable); returns the table.

    Holds ``out``'s write lock (:func:`ofa.locks.directory_lock`): a second writer fails fast."""
    with directory_lock(out, "acc", ACC_LOCK_WHY):
        return _build(supernet, source, Path(out), samples, supernet_hash, seed, calib_images, on_row)


ACC_LOCK_WHY = "two writers into one accuracy table would both evaluate every sub-network"


def _build(supernet, source: DataSource, out: Path, samples: int, supernet_hash: str, seed: int, calib_images: int,
           on_row: Callable[[int, int], None] | None) -> pd.DataFrame:
    settings = _settings(supernet_hash, source, samples, seed, calib_images)
    table = _check_resume(out, settings)
    rows = table.to_dict("records") if table is not None else []
    done = {int(r["index"]) for r in rows}
    manifest = {**HEADER.fields(), "settings": settings}
    if not (out / MANIFEST).is_file() or json.loads((out / MANIFEST).read_text()) != manifest:
        atomic_write_json(out / MANIFEST, manifest)
    configs = sample_configs(supernet.space, samples, seed)
    evaluator = SubnetEvaluator(supernet, source, calib_images, seed=seed)
    start = time.perf_counter()
    measured = 0
    for index, cfg in enumerate(configs):
        if index in done:
            continue
        t0 = time.perf_counter()
        result = evaluator.evaluate(cfg)
        costing = resnet_cost if isinstance(cfg, ResNetConfig) else subnet_cost
        cost = costing(supernet.space, cfg, supernet.num_classes)
        rows.append({"index": index, "subnet": cfg.to_json(), "r": cfg.r, **result, "mflops": cost.mflops,
                     "params_m": cost.params_m, "eval_s": time.perf_counter() - t0})
        measured += 1
        _write_table(out / TABLE, rows)
        if on_row:
            on_row(len(rows), samples)
    elapsed = time.perf_counter() - start
    if measured:
        log.info("evaluated %d sub-networks in %.1f s (%.1f per minute)", measured, elapsed, 60 * measured / elapsed)
    return pd.DataFrame(rows).sort_values("index").reset_index(drop=True)


def _write_table(path: Path, rows: list[dict]) -> None:
    frame = pd.DataFrame(rows).sort_values("index")
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def load_table(path: "str | Path") -> pd.DataFrame:
    path = Path(path)
    file = path / TABLE if path.is_dir() else path
    if not file.is_file():
        raise ArtifactError(f"no accuracy table at {file}; build one with `ofa acc build`")
    return pd.read_csv(file)
