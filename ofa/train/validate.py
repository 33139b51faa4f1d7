"""End-of-stage validation: fixed reference sub-networks, each BN-recalibrated, top-1 on the val split.

The references are the same for every stage of a run — the largest (at the largest resolution),
the smallest (at the smallest) and ``n_random`` fixed random ones — so the table shows how each
shrinking stage moves them. Each is extracted as a static copy before BN recalibration, so the
supernet's own statistics and the training RNG are left untouched.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

import torch

from ofa.bn_calib import recalibrate_bn
from ofa.data import resize_batch
from ofa.data.source import DataSource
from ofa.io import atomic_write_json
from ofa.nn.supernet import OFASupernet
from ofa.train.config import ValidationConfig
from ofa.train.family import family_for
from ofa.train.sampling import mix

log = logging.getLogger(__name__)
VALIDATION = "validation.json"
COLUMNS = ("stage", "subnet", "arch", "r", "mflops", "top1")


def reference_subnets(space, n_random: int, seed: int) -> dict:
    family = family_for(space)
    refs = {"largest": family.largest(), "smallest": family.smallest()}
    for i in range(n_random):
        refs[f"random{i}"] = family.sample(random.Random(mix(seed, "reference", i)))
    return refs


@torch.no_grad()
def top1(model: torch.nn.Module, source: DataSource, resolution: int, cfg: ValidationConfig, device: torch.device) -> float:
    model.eval()
    correct = seen = 0
    # a fixed random order: with max_images, a class-sorted split (ImageFolder) must not give one class only
    for images, labels in source.loader("val", batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed):
        if cfg.max_images is not None:
            if seen >= cfg.max_images:
                break
            images, labels = images[: cfg.max_images - seen], labels[: cfg.max_images - seen]
        images = resize_batch(images, resolution).to(device)
        logits = model(images)
        correct += int((logits.argmax(1).cpu() == labels).sum())
        seen += len(labels)
    return correct / max(1, seen)


def validate_stage(net: OFASupernet, source: DataSource, cfg: ValidationConfig, stage: str, device: torch.device) -> list[dict]:
    """One row per reference sub-network: its arch, resolution, MFLOPs and top-1 after BN recalibration."""
    rows = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for name, sub in reference_subnets(net.space, cfg.n_random, cfg.seed).items():
            model = net.extract(sub).to(device)
            batches = (b.to(device) for b in source.calibration_batches(cfg.calib_images, cfg.calib_batch_size, sub.r, cfg.seed))
            recalibrate_bn(model, batches)
            family = family_for(net.space)
            rows.append({"stage": stage, "subnet": name, "arch": family.arch(sub), "r": sub.r,
                         "mflops": round(family.cost_mflops(sub, net.num_classes), 3), "top1": top1(model, source, sub.r, cfg, device),
                         "config": sub.to_dict()})
    log.info("validation after stage %s:\n%s", stage, format_table(rows))
    return rows


def format_table(rows: list[dict]) -> str:
    cells = [[str(c) for c in COLUMNS]] + [[_cell(row[c]) for c in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths)) for line in cells)


def _cell(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def save_validation(run_dir: Path, rows: list[dict]) -> Path:
    return atomic_write_json(Path(run_dir) / VALIDATION, {"columns": list(COLUMNS), "rows": rows})
