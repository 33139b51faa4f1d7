"""OFA-ResNet transfer: ``ofa train --init`` on the small official-class fixture (given a 1000-class head) to the
10-class built-in digits; freezing, sandwich sampling, an interrupted run resumed exactly, and the refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import ofa
from ofa.artifacts import ModelInfo
from ofa.cli.main import app
from ofa.errors import ConfigError
from ofa.nn.resnet import OFAResNet
from ofa.official_resnet import import_official_resnet
from ofa.resnet_artifacts import resnet_space, save_resnet_supernet
from ofa.spaces.resnet import ResNetConfig
from ofa.train import load_config, resume, train
from ofa.train.checkpoint import load_checkpoint
from ofa.train.sampling import step_subnets

FIXTURE = Path(__file__).parent / "fixtures" / "official_resnet50_w0.06-0.12"
SPACE = {"id": "ofa_resnet50_w0.06-0.12", "w_choices": [0.06, 0.09, 0.12], "resolutions": [32, 48, 64]}
# head: 1 step (2 frozen stages), elastic: 5 sandwich steps of 4 sub-networks; a checkpoint every 2 steps
FAST = ["tensorboard=false", "log_every=1", "checkpoint_every=2", "validation.n_random=1", "validation.calib_images=32",
        "validation.max_images=64", "epochs_scale=0.03"]


def _hash(module: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        digest.update(key.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def imagenet_like(tmp_path_factory) -> Path:
    """The fixture's official weights (perturbed BN statistics) with a 1000-class head, as a ResNet supernet artifact."""
    root = tmp_path_factory.mktemp("resnet_init")
    source = import_official_resnet(FIXTURE / "supernet_state_dict.pt", resnet_space(SPACE))
    torch.manual_seed(3)
    net = OFAResNet(source.space, 1000)
    body = {k: v for k, v in source.state_dict().items() if not k.startswith("classifier.")}
    net.load_state_dict(body, strict=False)
    return save_resnet_supernet(net, root / "supernet", ModelInfo(num_classes=1000))


@pytest.fixture(scope="module")
def cli_run(imagenet_like, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("resnet_train") / "run"
    sets = [x for s in FAST for x in ("--set", s)]
    result = CliRunner().invoke(app, ["train", "--init", str(imagenet_like), "--data", "builtin", "--out", str(out), *sets])
    assert result.exit_code == 0, result.output
    return out


def test_cli_transfers_a_1000_class_resnet_supernet_to_the_10_class_digits(imagenet_like, cli_run, tmp_path):
    net = ofa.load_supernet(cli_run / "supernet")
    manifest = json.loads((cli_run / "supernet" / "manifest.json").read_text())
    assert isinstance(net, OFAResNet) and manifest["family"] == "resnet" and net.space.id == SPACE["id"]
    assert net.num_classes == 10 and net.classifier.linear.weight.shape[0] == 10
    config = net.info.config
    assert config["init"] == str(imagenet_like) and [s["name"] for s in config["schedule"]] == ["head", "elastic"]
    assert config["schedule"][0]["freeze_stages"] == 2 and config["schedule"][1]["w"] == SPACE["w_choices"]
    start = ofa.load_supernet(imagenet_like)
    after, before = net.state_dict(), start.state_dict()
    assert not torch.equal(after["input_stem.0.conv.weight"], before["input_stem.0.conv.weight"])  # elastic stage trains all
    for cfg in (ResNetConfig.largest(net.space), ResNetConfig.smallest(net.space)):
        sub_dir = tmp_path / f"sub_r{cfg.r}"
        (tmp_path / "cfg.json").write_text(json.dumps(cfg.to_dict()))
        result = CliRunner().invoke(app, ["extract", str(cli_run / "supernet"), "--subnet", str(tmp_path / "cfg.json"),
                                          "--out", str(sub_dir)])
        assert result.exit_code == 0, result.output
        images = torch.randn(2, 3, cfg.r, cfg.r)
        with torch.no_grad():
            logits = ofa.load_subnet(sub_dir)(images)
            assert logits.shape == (2, 10) and torch.isfinite(logits).all()
            torch.testing.assert_close(logits, net.extract(cfg)(images), rtol=0, atol=1e-5)
    rows = json.loads((cli_run / "validation.json").read_text())["rows"]
    assert [r["subnet"] for r in rows if r["stage"] == "elastic"] == ["largest", "smallest", "random0"]
    assert all(0.0 <= r["top1"] <= 1.0 for r in rows)


def test_acc_build_and_search_take_the_trained_supernet(cli_run, tmp_path):
    from ofa.resnet_artifacts import read_resnet_config

    acc = CliRunner().invoke(app, ["acc", "build", "--supernet", str(cli_run / "supernet"), "--data", "builtin",
                                   "--samples", "6", "--calib-images", "16", "--epochs", "10", "--out", str(tmp_path / "acc")])
    assert acc.exit_code == 0, acc.output
    search = CliRunner().invoke(app, ["search", "--supernet", str(cli_run / "supernet"), "--acc-predictor", str(tmp_path / "acc"),
                                      "--flops-m", "3", "--population", "10", "--generations", "3", "--out", str(tmp_path / "s")])
    assert search.exit_code == 0, search.output
    row = json.loads((tmp_path / "s" / "search_result.json").read_text())["results"][0]
    net = ofa.load_supernet(cli_run / "supernet")
    cfg = read_resnet_config(tmp_path / "s" / row["subnet_file"], net.space)
    assert row["feasible"] and row["mflops"] <= 3 and row["arch"] == cfg.arch_string(net.space)


def test_the_head_stage_freezes_the_input_stem_and_first_stages_and_trains_a_new_head(imagenet_like, tmp_path):
    cfg = load_config(preset="transfer-resnet", options={"init": str(imagenet_like), "data": "builtin"},
                      overrides=[*FAST, "schedule.head.freeze_stages=1"])
    result = train(cfg.model_copy(update={"schedule": cfg.schedule[:1]}), tmp_path / "run")
    start, net = ofa.load_supernet(imagenet_like), result.supernet.cpu()
    before, after = start.state_dict(), net.state_dict()
    first_stage = [f"blocks.{slot}." for slot in net.space.stage_blocks[0]]
    frozen = [k for k in after if k.startswith(("input_stem.", *first_stage))]
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)  # weights and BN statistics
    later = [k for k in after if k.startswith(f"blocks.{net.space.stage_blocks[1][0]}.") and k.endswith("weight")]
    assert any(not torch.equal(after[k], before[k]) for k in later)
    assert after["classifier.linear.weight"].shape == (10, before["classifier.linear.weight"].shape[1])
    assert all(p.requires_grad for p in net.parameters())  # frozen only during that stage


def test_an_interrupted_run_resumes_from_its_checkpoint_exactly(imagenet_like, cli_run, tmp_path):
    class Interrupt(Exception):
        pass

    class StopAt:  # the run dies after elastic step 3 (its last checkpoint: step 2)
        def start_stage(self, name, *args):
            self.stage = name

        def advance(self, done, record):
            if self.stage == "elastic" and done == 3:
                raise Interrupt

        def end_stage(self):
            pass

    cfg = load_config(preset="transfer-resnet", options={"init": str(imagenet_like), "data": "builtin"}, overrides=FAST)
    with pytest.raises(Interrupt):
        train(cfg, tmp_path / "run", StopAt())
    state = load_checkpoint(tmp_path / "run")["state"]
    assert (state["stage"], state["step"]) == (1, 2) and not (tmp_path / "run" / "supernet").exists()
    result = resume(tmp_path / "run")
    assert _hash(result.supernet) == _hash(ofa.load_supernet(cli_run / "supernet"))  # the uninterrupted CLI run


def test_sandwich_steps_train_the_stage_largest_smallest_and_random_subnetworks():
    from ofa.train.config import StageConfig
    from ofa.train.resnet_family import ResNetFamily

    space = resnet_space(SPACE)
    stage = StageConfig(name="elastic", d=[1, 2], e="all", w=[0.09, 0.12], epochs=1, lr=0.1, sandwich=True, subnets_per_step=4)
    ResNetFamily(space).expand_stage(stage)
    largest, smallest, *randoms = step_subnets(space, stage, 0, 1, 7, 48)
    assert largest == ResNetConfig((2,) * 5, (0.35,) * 18, (2,) * 6, 48, space.id)
    assert smallest == ResNetConfig((1,) * 5, (0.2,) * 18, (1,) * 6, 48, space.id)
    assert step_subnets(space, stage, 0, 1, 7, 48) == [largest, smallest, *randoms]  # a function of (seed, stage, step)
    draws = [c for s in range(20) for c in step_subnets(space, stage, 0, 1, s, 48)[2:]]
    assert all(set(c.d) <= {1, 2} and set(c.w) <= {1, 2} and c.r == 48 for c in draws)
    assert len({c.d for c in draws}) > 1 and len({c.w for c in draws}) > 1 and len({c.e for c in draws}) > 1
    for c in draws:
        c.validate(space)


@pytest.mark.parametrize("preset, overrides, message", [
    ("transfer", [], "no elastic kernel size.*transfer-resnet"),
    ("smoke", [], "OFA-ResNet supernet of space ofa_resnet50_w0.06-0.12, not ofa_tiny.*transfer-resnet"),
    ("transfer-resnet", ["schedule.head.freeze_stages=5"], "freeze_stages exceeds the 4 elastic stages"),
    ("transfer-resnet", ["schedule.elastic.w=[0.5]"], r"w=\[0.5\] has value\(s\) \[0.5\] outside.*0.06, 0.09, 0.12"),
    ("transfer-resnet", ["schedule.elastic.reorganize_channels=true"], "reorganize_channels.*not OFA-ResNet"),
])
def test_settings_that_make_no_sense_for_resnet_are_config_errors(imagenet_like, preset, overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(preset=preset, options={"init": str(imagenet_like), "data": "builtin"}, overrides=overrides)


def test_a_width_choice_on_a_mobilenet_stage_is_a_config_error():
    with pytest.raises(ConfigError, match="w \\(width multipliers\\) is an OFA-ResNet dimension"):
        load_config(preset="smoke", overrides=["schedule.full.w=[1.0]"])
    with pytest.raises(ConfigError, match="transfer-resnet preset needs an OFA-ResNet --init"):
        load_config(preset="transfer-resnet", options={"data": "builtin"})


def test_an_official_resnet_checkpoint_file_is_an_init_and_the_zoo_refuses_it(tmp_path):
    from ofa.zoo.config import load_zoo_config
    from ofa.zoo.stages import supernet_stage

    (tmp_path / "space.json").write_text(json.dumps(SPACE))
    checkpoint = FIXTURE / "supernet_state_dict.pt"
    cfg = load_config(preset="transfer-resnet", options={"init": str(checkpoint), "space": str(tmp_path / "space.json"),
                                                         "data": "builtin"}, overrides=[*FAST, "epochs_scale=0.001"])
    result = train(cfg.model_copy(update={"schedule": cfg.schedule[:1]}), tmp_path / "run")  # one head step
    official = import_official_resnet(checkpoint, resnet_space(SPACE)).state_dict()
    assert result.global_step == 1 and result.supernet.num_classes == 10  # 10-class fixture: its head is kept
    assert torch.equal(result.supernet.state_dict()["input_stem.0.conv.weight"], official["input_stem.0.conv.weight"])
    zoo = load_zoo_config(overrides={"supernet": {"import_official": str(checkpoint), "transfer": True}})
    with pytest.raises(ConfigError, match="OFA-ResNet: the zoo takes MobileNetV3/ProxylessNAS supernets only"):
        supernet_stage(zoo, tmp_path / "zoo", lambda message: None)


def test_a_new_resnet_head_is_n_0_001_with_zero_bias_and_the_body_is_inherited():
    from ofa.train.transfer import inherit_weights

    space = resnet_space(SPACE)
    torch.manual_seed(0)
    start = OFAResNet(space, 1000)
    with torch.no_grad():
        start.classifier.linear.weight.mul_(30.0)
        start.classifier.linear.bias.fill_(3.0)
    net = OFAResNet(space, 10)
    inherit_weights(net, start, new_head=True)
    body = {k: v for k, v in start.state_dict().items() if not k.startswith("classifier.")}
    assert all(torch.equal(net.state_dict()[k], v) for k, v in body.items())
    head = net.classifier.linear
    assert torch.count_nonzero(head.bias) == 0 and abs(float(head.weight.detach().std()) - 0.01) < 0.002
