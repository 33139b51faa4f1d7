"""Transfer: a supernet trained on other classes (1000-class head) fine-tuned on a 10-class dataset end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import ofa
from ofa.artifacts import ModelInfo, save_supernet
from ofa.cli.main import app
from ofa.errors import ConfigError, DataError
from ofa.nn.supernet import OFASupernet
from ofa.official import read_checkpoint
from ofa.spaces import get_space
from ofa.train import load_config, train

TINY = "ofa_tiny_in32_d12_e34_k35_w1.0"
TINY_P = "ofa_tiny_proxyless_in32_d12_e34_k35_w1.0"
OFFICIAL = Path("/work/shared/fixtures/ofa_mbv3_reference/supernet_state_dict.pt")
FAST = ["tensorboard=false", "log_every=1", "checkpoint_every=0", "validation.n_random=0",
        "validation.calib_images=32", "validation.max_images=64"]


@pytest.fixture(scope="module")
def imagenet_like(tmp_path_factory) -> Path:
    return _thousand_class_supernet(TINY, tmp_path_factory.mktemp("init"))


def _thousand_class_supernet(space_id: str, directory: Path) -> Path:
    """A supernet of ``space_id`` with a 1000-class head and perturbed BN statistics, saved as an artifact."""
    torch.manual_seed(1)
    net = OFASupernet(get_space(space_id), num_classes=1000)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if "running_" in name:
                tensor.add_(torch.rand_like(tensor) * 0.2)
    return save_supernet(net, directory / "supernet", ModelInfo(num_classes=1000))


def test_head_only_stage_with_frozen_stages_keeps_them_and_gets_a_new_head(imagenet_like, tmp_path):
    start = ofa.load_supernet(imagenet_like)
    cfg = load_config(preset="transfer", options={"init": str(imagenet_like), "data": "builtin"},
                      overrides=[*FAST, "epochs_scale=0.1", "schedule.head.freeze_stages=1",
                                 "schedule.elastic.epochs=0.001"])
    assert cfg.space == TINY and cfg.schedule[0].freeze_stages == 1
    result = train(cfg.model_copy(update={"schedule": cfg.schedule[:1]}), tmp_path / "run")
    net, before, after = result.supernet.cpu(), start.state_dict(), result.supernet.cpu().state_dict()
    assert net.num_classes == 10 and after["classifier.weight"].shape == (10, 128)
    frozen = {k for k in after if k.startswith(("stem.", "blocks.0.", "blocks.1.", "blocks.2."))}
    assert frozen and all(torch.equal(after[k], before[k]) for k in frozen)  # weights and BN statistics
    trained = [k for k in after if k.startswith("blocks.3.") and k.endswith("weight")]
    assert any(not torch.equal(after[k], before[k]) for k in trained)
    assert all(p.requires_grad for p in net.parameters())  # frozen only during that stage


def test_cli_transfers_a_1000_class_supernet_to_the_10_class_digits(imagenet_like, tmp_path):
    out = tmp_path / "run"
    sets = [x for s in [*FAST, "epochs_scale=0.05"] for x in ("--set", s)]
    result = CliRunner().invoke(app, ["train", "--init", str(imagenet_like), "--data", "builtin", "--out", str(out),
                                      "--freeze-stages", "2", *sets])
    assert result.exit_code == 0, result.output
    net = ofa.load_supernet(out / "supernet")
    assert net.space.id == TINY and net.num_classes == 10
    assert net.info.config["init"] == str(imagenet_like) and net.info.config["schedule"][0]["freeze_stages"] == 2
    assert [s["name"] for s in net.info.config["schedule"]] == ["head", "elastic"]
    sub = ofa.load_subnet(out / "supernet", {"space": TINY, "ks": [3] * 6, "e": [3] * 6, "d": [1, 1, 1], "r": 16})
    assert sub(torch.zeros(1, 3, 16, 16)).shape == (1, 10)


def test_a_proxylessnas_family_supernet_transfers_too(tmp_path):
    init = _thousand_class_supernet(TINY_P, tmp_path)
    sets = [x for s in [*FAST, "epochs_scale=0.03"] for x in ("--set", s)]
    result = CliRunner().invoke(app, ["train", "--init", str(init), "--data", "builtin", "--out", str(tmp_path / "run"), *sets])
    assert result.exit_code == 0, result.output
    net = ofa.load_supernet(tmp_path / "run" / "supernet")
    assert net.space.id == TINY_P and net.num_classes == 10 and net.feature_mix is None


def test_keeping_a_head_that_does_not_fit_is_a_data_error(imagenet_like, tmp_path):
    cfg = load_config(preset="transfer", options={"init": str(imagenet_like), "data": "builtin"}, overrides=["head=keep"])
    with pytest.raises(DataError, match="10 classes, fewer than the network head's 1000.*set head: auto"):
        train(cfg, tmp_path / "run")


def test_freezing_more_stages_than_the_space_has_is_a_config_error(imagenet_like):
    with pytest.raises(ConfigError, match="freeze_stages exceeds the 3 elastic stages"):
        load_config(preset="transfer", options={"init": str(imagenet_like)}, overrides=["schedule.head.freeze_stages=4"])


def test_missing_init_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist.*official OFA checkpoint"):
        load_config(preset="transfer", options={"init": str(tmp_path / "nope.pth")})


@pytest.mark.skipif(not OFFICIAL.is_file(), reason="official OFA fixture not present")
def test_official_checkpoint_file_transfers_to_a_3_class_imagefolder(tmp_path):
    from PIL import Image

    for split in ("train", "val"):
        for i in range(3):
            folder = tmp_path / "data" / split / f"c{i}"
            folder.mkdir(parents=True)
            for j in range(4):
                Image.new("RGB", (32, 32), (80 * i, 20 * j, 50)).save(folder / f"{j}.png")
    r128 = ["schedule.head.r=[128]", "schedule.elastic.r=[128]", "batch_size=4", "epochs_scale=0.34"]
    cfg = load_config(preset="transfer", options={"init": str(OFFICIAL), "data": str(tmp_path / "data")},
                      overrides=[*FAST, *r128, "validation.calib_images=8", "validation.max_images=4"])
    assert cfg.space == "ofa_mbv3_d234_e346_k357_w1.0"
    result = train(cfg.model_copy(update={"schedule": cfg.schedule[:1]}), tmp_path / "run")  # the head stage
    official = read_checkpoint(OFFICIAL)
    body = result.supernet.cpu().state_dict()
    assert result.supernet.num_classes == 3 and result.global_step == 1
    assert torch.equal(body["stem.conv.weight"], official["first_conv.conv.weight"])  # frozen stem
    assert torch.equal(body["blocks.5.dw_bn.running_mean"], official["blocks.5.conv.depth_conv.bn.bn.running_mean"])
    assert not torch.equal(body["blocks.12.dw_conv.weight"], official["blocks.12.conv.depth_conv.conv.conv.weight"])


def test_zoo_supernet_stage_fine_tunes_a_given_supernet_with_transfer_true(imagenet_like, tmp_path):
    from ofa.zoo.config import load_zoo_config
    from ofa.zoo.stages import supernet_stage

    config = load_zoo_config(overrides={"supernet": {"path": str(imagenet_like), "transfer": True,
                                                     "train_overrides": [*FAST, "epochs_scale=0.02"]}})
    assert config.supernet.preset == "transfer"
    out = supernet_stage(config, tmp_path, lambda message: None)
    assert out == tmp_path / "transfer" / "supernet"
    net = ofa.load_supernet(out)
    assert net.space.id == TINY and net.num_classes == 10 and net.info.config["init"] == str(imagenet_like)
    assert supernet_stage(config, tmp_path, lambda message: None) == out  # reused, not retrained


def test_zoo_transfer_needs_a_supernet_to_start_from():
    from ofa.zoo.config import load_zoo_config

    with pytest.raises(ConfigError, match="transfer: true fine-tunes a given supernet"):
        load_zoo_config(overrides={"supernet": {"transfer": True}})


def test_a_new_head_is_n_0_001_with_zero_bias_and_the_body_is_inherited():
    from ofa.train.transfer import inherit_weights

    torch.manual_seed(0)
    start = OFASupernet(get_space(TINY), 1000)
    with torch.no_grad():
        start.classifier.bias.fill_(3.0)
    net = OFASupernet(get_space(TINY), 1000)
    inherit_weights(net, start, new_head=True)  # same class count, head: new
    body = {k: v for k, v in start.state_dict().items() if not k.startswith("classifier.")}
    assert all(torch.equal(net.state_dict()[k], v) for k, v in body.items())
    assert torch.count_nonzero(net.classifier.bias) == 0
    assert abs(float(net.classifier.weight.std()) - 0.01) < 0.001 and not torch.equal(net.classifier.weight, start.classifier.weight)


@pytest.mark.skipif(not OFFICIAL.is_file(), reason="official OFA fixture not present")
@pytest.mark.slow
def test_zoo_imports_an_official_checkpoint_and_fine_tunes_it(tmp_path):
    from ofa.zoo.config import load_zoo_config
    from ofa.zoo.stages import supernet_stage

    short = ["schedule.head.r=[128]", "schedule.elastic.r=[128]", "batch_size=8", "epochs_scale=0.006",
             "validation.calib_images=8", "validation.max_images=8"]
    config = load_zoo_config(overrides={"supernet": {"import_official": str(OFFICIAL), "transfer": True,
                                                     "train_overrides": [*FAST, *short]}})
    net = ofa.load_supernet(supernet_stage(config, tmp_path, lambda message: None))
    assert net.space.id == "ofa_mbv3_d234_e346_k357_w1.0" and net.num_classes == 10  # digits: 10 classes, head kept
    assert net.info.config["init"] == str(OFFICIAL) and net.info.config["head"] == "auto"
