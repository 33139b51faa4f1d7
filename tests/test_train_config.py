"""Training config, schedule and sampling: validation errors, derived schedules, deterministic draws."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import MBV3, TINY
from ofa.errors import ConfigError, DataError
from ofa.spaces import get_space
from ofa.train import load_config, train
from ofa.train.config import parse_override
from ofa.train.sampling import ShardSampler, step_resolution, step_subnets
from ofa.train.schedule import default_schedule, lr_at, stage_steps


def test_unknown_top_level_key_is_an_error():
    with pytest.raises(ConfigError, match=r"batch_sise.*(Extra inputs|not permitted)"):
        load_config(preset="smoke", overrides=["batch_sise=16"])


def test_unknown_stage_key_in_a_yaml_file_is_an_error(tmp_path: Path):
    file = tmp_path / "train.yaml"
    file.write_text(f"space: {TINY}\nschedule:\n  - {{name: full, epochs: 1, lr: 0.1, kd_wieght: 1}}\n")
    with pytest.raises(ConfigError, match=r"schedule\.0\(full\)\.kd_wieght"):
        load_config(file=file)


def test_stage_value_outside_the_space_names_the_valid_choices():
    with pytest.raises(ConfigError, match=r"stage 'kernel': ks=\[3, 7\] has value\(s\) \[7\].*valid ks choices: \[3, 5\]"):
        load_config(preset="smoke", overrides=["schedule.kernel.ks=[3, 7]"])


def test_resolution_outside_the_space_is_an_error():
    with pytest.raises(ConfigError, match=r"r=\[64\].*valid r choices: \[16, 24, 32\]"):
        load_config(preset="smoke", overrides=["schedule.0.r=[64]"])


def test_kd_before_the_teacher_exists_is_an_error():
    with pytest.raises(ConfigError, match="no teacher exists yet"):
        load_config(preset="smoke", overrides=["schedule.full.kd_weight=1.0"])


def test_sandwich_needs_two_subnets_per_step():
    with pytest.raises(ConfigError, match="sandwich needs subnets_per_step >= 2"):
        load_config(preset="smoke", overrides=["schedule.kernel.sandwich=true"])


def test_set_addresses_stages_by_name_or_index_and_rejects_unknown_stages():
    cfg = load_config(preset="smoke", overrides=["schedule.kernel.lr=0.5", "schedule.-1.epochs=7", "epochs_scale=0.5"])
    assert cfg.schedule[1].lr == 0.5 and cfg.schedule[-1].epochs == 7 and cfg.epochs_scale == 0.5
    with pytest.raises(ConfigError, match=r"no stage 'kernal'.*\['full', 'kernel', 'depth12', 'expand34'\]"):
        load_config(preset="smoke", overrides=["schedule.kernal.lr=0.5"])
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("batch_size")


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown preset 'fast'.*'smoke'"):
        load_config(preset="fast")


def test_default_schedule_follows_ofa_order_derived_from_the_space():
    names = [s["name"] for s in default_schedule(get_space(MBV3))]
    assert names == ["full", "kernel", "depth34", "depth234", "expand46", "expand346"]
    tiny = load_config(options={"space": TINY}).schedule
    assert [s.name for s in tiny] == ["full", "kernel", "depth12", "expand34"]
    full, kernel, depth, expand = tiny
    assert (full.ks, full.e, full.d, full.r, full.kd_weight) == ([5], [4], [2], [16, 24, 32], 0.0)
    assert (kernel.ks, kernel.e, kernel.d) == ([3, 5], [4], [2])
    assert (depth.d, depth.subnets_per_step, expand.e, expand.d, expand.subnets_per_step) == ([1, 2], 2, [3, 4], [1, 2], 4)
    assert expand.reorganize_channels and not depth.reorganize_channels
    assert all(s.kd_weight > 0 for s in tiny[1:])


def test_epochs_scale_and_learning_rate_schedule():
    assert stage_steps(180, 0.00125, 44) == 10
    assert stage_steps(0.1, 0.001, 10) == 1  # never zero steps
    lrs = [lr_at(s, total=10, warmup=2, lr=1.0) for s in range(10)]
    assert lrs[0] < lrs[1] < lrs[2] == 1.0 and all(a >= b for a, b in zip(lrs[2:], lrs[3:])) and lrs[-1] < 0.05


def test_step_draws_are_deterministic_and_stay_within_the_stage():
    cfg = load_config(preset="smoke", overrides=["schedule.depth12.sandwich=true", "schedule.depth12.subnets_per_step=3"])
    space, stage = get_space(TINY), cfg.schedule[2]
    r = step_resolution(0, 2, 5, stage.r)
    assert r == step_resolution(0, 2, 5, stage.r) and r in stage.r
    subnets = step_subnets(space, stage, 0, 2, 5, r)
    assert subnets == step_subnets(space, stage, 0, 2, 5, r)
    assert subnets[0].d == (2, 2, 2) and subnets[1].d == (1, 1, 1)  # sandwich: largest, smallest
    for sub in subnets:
        assert sub.r == r and set(sub.e) == {4} and set(sub.ks) <= {3, 5}
    draws = {step_subnets(space, stage, 0, 2, s, r)[2] for s in range(20)}
    assert len(draws) > 1


def test_shard_sampler_splits_each_global_batch_across_ranks():
    whole = ShardSampler(100, 8, seed=3, rank=0, world=1).indices
    ranks = [ShardSampler(100, 8, seed=3, rank=k, world=2).indices for k in range(2)]
    assert len(whole) == 96 and len(ranks[0]) == len(ranks[1]) == 48
    for b in range(12):
        assert sorted(whole[b * 8 : (b + 1) * 8]) == sorted(ranks[0][b * 4 : (b + 1) * 4] + ranks[1][b * 4 : (b + 1) * 4])
    assert ShardSampler(100, 8, seed=3, rank=0, world=1, start_batch=5).indices == whole[40:]


def _imagefolder(root: Path, classes: list[str], per_class: int = 4) -> Path:
    from PIL import Image

    for split in ("train", "val"):
        for i, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for j in range(per_class):
                Image.new("RGB", (32, 32), (40 * i, 10 * j, 100)).save(folder / f"{j}.png")
    return root


def test_dataset_with_fewer_classes_than_the_head_fails_before_writing(tmp_path: Path):
    data = _imagefolder(tmp_path / "data", ["cat", "dog"])
    cfg = load_config(preset="smoke", options={"data": str(data)}, overrides=["num_classes=10"])
    out = tmp_path / "run"
    with pytest.raises(DataError, match="has 2 classes, fewer than the network head's 10"):
        train(cfg, out)
    assert not out.exists()


def test_dataset_smaller_than_one_batch_is_an_error(tmp_path: Path):
    data = _imagefolder(tmp_path / "data", ["cat", "dog"])
    cfg = load_config(preset="smoke", options={"data": str(data)})
    with pytest.raises(DataError, match="fewer than one batch of 32"):
        train(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_inplace_distillation_needs_the_sandwich_rule_but_no_teacher():
    with pytest.raises(ConfigError, match="kd_source 'inplace'"):
        load_config(preset="smoke", overrides=["schedule.kernel.kd_source=inplace"])
    cfg = load_config(preset="smoke", overrides=["loss.teacher_stage=null", "schedule.full.sandwich=true",
                                                 "schedule.full.subnets_per_step=2", "schedule.full.kd_weight=1.0",
                                                 "schedule.full.kd_source=inplace", "schedule.kernel.kd_weight=0",
                                                 "schedule.depth12.kd_weight=0", "schedule.expand34.kd_weight=0"])
    assert cfg.schedule[0].kd_source == "inplace" and cfg.loss.teacher_stage is None


def test_inplace_step_distils_the_smallest_from_the_live_largest():
    """The KD term of an in-place step is the soft-target loss of the smallest against the largest's logits
    of the same batch, computed before the update; the largest itself gets no KD term."""
    from types import SimpleNamespace

    import torch

    from ofa.nn.supernet import OFASupernet
    from ofa.subnet import SubnetConfig
    from ofa.train.ddp import DistContext
    from ofa.train.distill import soft_target_loss
    from ofa.train.loop import train_step
    from ofa.train.prepare import build_optimizer

    config = load_config(preset="smoke")
    space = get_space(TINY)
    torch.manual_seed(0)
    net = OFASupernet(space, 10)
    stage = config.schedule[0].model_copy(update={"sandwich": True, "subnets_per_step": 2, "kd_weight": 1.0,
                                                  "kd_source": "inplace"})
    largest, smallest = (SubnetConfig.largest(space), SubnetConfig.smallest(space))
    largest, smallest = (SubnetConfig(space.id, c.ks, c.e, c.d, 32) for c in (largest, smallest))
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    net.train()
    with torch.no_grad():
        net.set_active(largest)
        teacher = net(x)
        net.set_active(smallest)
        expected = float(soft_target_loss(net(x), teacher))
    run = SimpleNamespace(config=config, net=net, teacher=None, ctx=DistContext())
    stats = train_step(run, build_optimizer(net, config, 0.01), stage, [largest, smallest], x, y)
    assert stats["kd"] * 2 == pytest.approx(expected, rel=1e-4)
