import random

import pytest
import torch

from conftest import IN32, MBV3, TINY, randomize
from ofa import SubnetConfig, get_space, load_subnet
from ofa.artifacts import ModelInfo, save_subnet, save_supernet
from ofa.complexity import subnet_cost
from ofa.nn.static import StaticSubnet
from ofa.nn.supernet import OFASupernet


@pytest.mark.parametrize("space_id,n", [(TINY, 25), (IN32, 8), (MBV3, 3)])
def test_extracted_logits_equal_supernet(space_id, n):
    space = get_space(space_id)
    net = randomize(OFASupernet(space, 10), 3).eval()
    rng = random.Random(0)
    configs = [SubnetConfig.largest(space), SubnetConfig.smallest(space)] + [SubnetConfig.sample(space, rng) for _ in range(n)]
    for cfg in configs:
        r = cfg.r if space_id != MBV3 else 128  # keep the full-size space quick
        x = torch.randn(2, 3, r, r)
        net.set_active(cfg)
        with torch.no_grad():
            torch.testing.assert_close(net.extract(cfg)(x), net(x), rtol=0, atol=1e-5)


def test_rebuilds_from_json_config_alone(tmp_path):
    space = get_space(IN32)
    supernet = randomize(OFASupernet(space, 10), 4).eval()
    cfg = SubnetConfig.sample(space, 2)
    static = supernet.extract(cfg)
    save_subnet(static, tmp_path / "sub", ModelInfo(num_classes=10))
    del supernet  # the rebuild below must not need it
    loaded = load_subnet(tmp_path / "sub")
    assert isinstance(loaded, StaticSubnet) and loaded.config == cfg and not loaded.training
    x = torch.randn(3, 3, cfg.r, cfg.r)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), static(x), rtol=0, atol=0)


def test_load_subnet_from_supernet_dir_and_config(tmp_path):
    space = get_space(TINY)
    supernet = randomize(OFASupernet(space, 7), 5).eval()
    save_supernet(supernet, tmp_path / "super", ModelInfo(num_classes=7, labels=list("abcdefg")))
    cfg = SubnetConfig.sample(space, 1)
    cfg.save(tmp_path / "c.json")
    net = load_subnet(tmp_path / "super", tmp_path / "c.json")
    assert net.info.labels == list("abcdefg")
    x = torch.randn(1, 3, cfg.r, cfg.r)
    supernet.set_active(cfg)
    with torch.no_grad():
        torch.testing.assert_close(net(x), supernet(x), rtol=0, atol=1e-6)


def _hook_count(model: torch.nn.Module, r: int) -> int:
    macs = 0

    def hook(module, _inp, out):
        nonlocal macs
        if isinstance(module, torch.nn.Conv2d):
            w = module.weight
            macs += out.shape[1] * out.shape[2] * out.shape[3] * w.shape[1] * w.shape[2] * w.shape[3]
        elif isinstance(module, torch.nn.Linear):
            macs += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(torch.randn(1, 3, r, r))
    for h in handles:
        h.remove()
    return macs


@pytest.mark.parametrize("space_id", [TINY, IN32, MBV3])
def test_flops_and_params_match_the_built_module(space_id):
    space = get_space(space_id)
    rng = random.Random(1)
    for cfg in [SubnetConfig.largest(space), SubnetConfig.smallest(space)] + [SubnetConfig.sample(space, rng) for _ in range(4)]:
        net = StaticSubnet(space, cfg, 10)
        cost = subnet_cost(space, cfg, 10)
        assert cost.params == sum(p.numel() for p in net.parameters())
        assert cost.macs == _hook_count(net, cfg.r)


def test_official_largest_flops_in_known_range():
    # OFA-MBv3 w1.0, largest sub-network at 224 with 1000 classes: ~7.7M params (OFA's model zoo range)
    cost = subnet_cost(get_space(MBV3), SubnetConfig.largest(MBV3), 1000)
    assert 7.0 < cost.params_m < 8.0
