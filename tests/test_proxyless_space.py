"""The ProxylessNAS family end to end: FLOPs/params, extraction, LUT build, search and export.

The full-size official space is checked where it is cheap (analytic counts against the built modules, the
vectorised cost tables, extraction); the tiny member of the family runs the device-facing steps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from ofa.cli.main import app
from ofa.complexity import subnet_cost
from ofa.cost_table import flops_table, params_table
from ofa.nn.supernet import OFASupernet
from ofa.population import Population
from ofa.search.population import sample
from ofa.spaces import get_space
from ofa.subnet import SubnetConfig
from test_bad_input_support import write_acc_predictor, write_supernet

PROXYLESS = "ofa_proxyless_d234_e346_k357_w1.3"
TINY_P = "ofa_tiny_proxyless_in32_d12_e34_k35_w1.0"
runner = CliRunner()


def _counted_macs(net: nn.Module, r: int) -> int:
    """MACs of convolutions and linear layers, counted by hooks on a forward pass."""
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            total += module.in_features * module.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 3, r, r))
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize("name", ["largest", "smallest", "random"])
def test_analytic_flops_and_params_equal_the_built_network(name):
    space = get_space(PROXYLESS)
    cfg = {"largest": SubnetConfig.largest(space, 128), "smallest": SubnetConfig.smallest(space, 128),
           "random": SubnetConfig.sample(space, 3, r=(128,))}[name]
    supernet = OFASupernet(space, 1000).eval()
    static = supernet.extract(cfg)
    cost = subnet_cost(space, cfg, 1000)
    assert cost.params == sum(p.numel() for p in static.parameters())
    assert cost.macs == _counted_macs(static, 128)
    supernet.set_active(cfg)
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():
        torch.testing.assert_close(static(x), supernet(x), rtol=0, atol=1e-5)
    assert len(static.blocks) == 1 + sum(min(d, cap) for d, cap in zip(cfg.d, space.depth_caps))


def test_vectorised_cost_tables_and_minimum_respect_the_one_block_last_stage():
    space = get_space(PROXYLESS)
    pop = sample(space, 30, np.random.default_rng(0))
    flops, params = flops_table(space, 1000)(pop), params_table(space, 1000)(pop)
    for i, cfg in enumerate(pop.configs(space)):
        assert flops[i] == pytest.approx(subnet_cost(space, cfg, 1000).mflops, abs=1e-9)
        assert params[i] == pytest.approx(subnet_cost(space, cfg, 1000).params_m, abs=1e-12)
    value, best = flops_table(space, 1000).minimum()
    assert value == pytest.approx(subnet_cost(space, SubnetConfig.smallest(space), 1000).mflops)
    assert flops_table(space, 1000)(best)[0] == pytest.approx(value)
    capped = [SubnetConfig.largest(space).to_dict() | {"d": [4, 4, 4, 4, 4, d]} for d in (2, 3, 4)]
    costs = flops_table(space, 1000)(Population.from_configs(space, [SubnetConfig.from_dict(c) for c in capped]))
    assert len(set(costs.tolist())) == 1  # the last stage's d entry changes nothing


@pytest.mark.slow
def test_lut_build_predicts_the_sum_of_its_blocks_and_search_and_export_run(tmp_path):
    from devices.spec import DeviceSpec
    from latency.api import load_predictor
    from latency.blocks import enumerate_blocks, network_block_keys
    from latency.profile import build_lut

    space = get_space(TINY_P)
    device = DeviceSpec.from_dict({"name": "tiny-ort", "transport": {"kind": "local"},
                                   "runner": {"kind": "onnxruntime", "warmup": 2, "repeats": 5, "threads": 1}})
    table = build_lut(device, TINY_P, [32], tmp_path / "lut", num_classes=10)
    blocks = enumerate_blocks(space, [32], 10)
    assert {b.kind for b in blocks} == {"stem", "mbconv", "final_expand", "pool", "classifier"}  # no feature_mix
    assert all(b.act in ("relu6", "none") for b in blocks)
    assert len(table.frame) == len({b.key for b in blocks}) and table.is_complete
    predictor = load_predictor(tmp_path / "lut", "block_sum")
    cfgs = [SubnetConfig.sample(space, s, r=(32,)) for s in range(20)]
    values = table.values()
    expected = [sum(values[(32, k)][0] for k in network_block_keys(space, c, 10)) for c in cfgs]
    np.testing.assert_allclose(predictor.predict(cfgs).mean_ms, expected, rtol=1e-9)

    write_supernet(tmp_path / "supernet", TINY_P)
    write_acc_predictor(tmp_path / "acc", TINY_P)
    found = runner.invoke(app, ["search", "--supernet", str(tmp_path / "supernet"), "--acc-predictor", str(tmp_path / "acc"),
                                "--device", str(tmp_path / "lut"), "--latency-ms", "1000", "--generations", "3",
                                "--population", "8", "--json"])
    assert found.exit_code == 0, found.output
    subnet = json.loads(found.stdout)[0]["subnet"]
    SubnetConfig.from_dict(subnet).validate(space)
    (tmp_path / "s.json").write_text(json.dumps(subnet))
    exported = runner.invoke(app, ["export", str(tmp_path / "supernet"), "--subnet", str(tmp_path / "s.json"),
                                   "--out", str(tmp_path / "out"), "--val-images", "16"])
    assert exported.exit_code == 0, exported.output
    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert report["passed"] and (tmp_path / "out" / "model_fp32.onnx").is_file()
