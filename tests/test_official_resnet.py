"""OFA-ResNet50: official checkpoints import and reproduce the official logits (supernet and extracted).

The fixture (tests/fixtures/official_resnet50_w0.06-0.12, from bench/official_fixtures.py and the official
package) is the official ``OFAResNets`` class with width multipliers 0.06/0.09/0.12 instead of 0.65/0.8/1.0
so that it stays small (3 MB), BN statistics, affine parameters and classifier bias perturbed. The full-size
``ofa_resnet50`` is checked structurally: every official key and shape maps onto ours.
"""

import json
import tempfile
from pathlib import Path

import pytest
import torch
from torch import nn

from ofa.errors import ConfigError
from ofa.nn.resnet import OFAResNet, resnet_cost
from ofa.official_resnet import import_official_resnet, resnet_config_from_official
from ofa.spaces.resnet import OFA_RESNET50, ResNetConfig, ResNetSpace

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "official_resnet50_w0.06-0.12"
ATOL = 1e-5


@pytest.fixture(scope="module")
def small():
    space = ResNetSpace(id="ofa_resnet50_w0.06-0.12", w_choices=(0.06, 0.09, 0.12), resolutions=(32, 48, 64))
    net = import_official_resnet(SMALL / "supernet_state_dict.pt", space)
    cases = json.loads((SMALL / "cases.json").read_text())
    return net, cases, torch.load(SMALL / "inputs.pt", weights_only=True), torch.load(SMALL / "outputs.pt", weights_only=True)


def test_supernet_and_extracted_reproduce_the_official_logits_at_several_resolutions(small):
    net, cases, inputs, outputs = small
    assert len(cases) == 6 and {c["resolution"] for c in cases} == {32, 48, 64}
    assert any(c["d"][0] != 2 for c in cases) and any(c["d"][0] == 2 for c in cases)  # the stem-skipping rule both ways
    for i, case in enumerate(cases):
        cfg = resnet_config_from_official(net.space, case["d"], case["e"], case["w"], case["resolution"])
        net.set_active(cfg)
        with torch.no_grad():
            ours, extracted = net(inputs[f"x{i}"]), net.extract(cfg)(inputs[f"x{i}"])
        for theirs in (outputs[f"y{i}"], outputs[f"s{i}"]):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=ATOL)
            torch.testing.assert_close(extracted, theirs, rtol=0, atol=ATOL)
        assert float(outputs[f"y{i}"].abs().max()) > 100 * ATOL


def test_extracted_structure_matches_the_official_net_config(small):
    net, cases, _, _ = small
    for case in cases:
        cfg = resnet_config_from_official(net.space, case["d"], case["e"], case["w"], case["resolution"])
        static = net.extract(cfg)
        official = case["net_config"]
        assert len(static.input_stem) == len(official["input_stem"]) == (2 if case["d"][0] != 2 else 3)
        assert len(static.blocks) == len(official["blocks"])
        for ours, theirs in zip(static.blocks, official["blocks"]):
            assert ours.conv3.conv.weight.shape[0] == theirs["out_channels"]
            assert ours.conv1.conv.weight.shape[0] == theirs["mid_channels"] and ours.stride == theirs["stride"]


def _counted_macs(net: nn.Module, r: int) -> int:
    total = 0

    def hook(module, inputs, output):
        nonlocal total
        x = inputs[0]
        if hasattr(module, "kernel"):  # ElasticConv
            total += output.numel() * x.shape[1] * module.kernel * module.kernel

    handles = [m.register_forward_hook(hook) for m in net.modules() if hasattr(m, "kernel")]
    with torch.no_grad():
        out = net(torch.zeros(1, 3, r, r))
    for h in handles:
        h.remove()
    return total + net.classifier.linear.in_features * out.shape[1]


@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_analytic_flops_and_params_equal_the_built_network(seed):
    space = OFA_RESNET50
    cfg = ResNetConfig.largest(space, 128) if seed is None else ResNetConfig.sample(space, seed)
    cfg = ResNetConfig(cfg.d, cfg.e, cfg.w, 128)
    static = OFAResNet(space, 1000).extract(cfg)
    cost = resnet_cost(space, cfg, 1000)
    assert cost.params == sum(p.numel() for p in static.parameters())
    assert cost.macs == _counted_macs(static, 128)


def test_configs_are_validated_naming_the_choices():
    with pytest.raises(ConfigError, match=r"'e' has value\(s\) \[0.3\].*valid: \[0.2, 0.25, 0.35\]"):
        ResNetConfig.from_dict({"d": [2] * 5, "e": [0.3] * 18, "w": [2] * 6, "r": 224}, OFA_RESNET50)
    with pytest.raises(ConfigError, match="'w' has 5 entries but ofa_resnet50 needs 6"):
        ResNetConfig.from_dict({"d": [2] * 5, "e": [0.25] * 18, "w": [2] * 5, "r": 224}, OFA_RESNET50)


def test_full_size_official_keys_and_shapes_all_map_onto_ofa_resnet50():
    shapes = json.loads((FIXTURES / "official_resnet50_shapes.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        torch.save({k: torch.zeros(v) for k, v in shapes.items()}, Path(tmp) / "r50.pth")
        net = import_official_resnet(Path(tmp) / "r50.pth")
    assert net.num_classes == 1000 and len(net.blocks) == 18


def test_an_extracted_sub_network_exports_to_onnx_with_parity(tmp_path):
    from export.api import export_model

    space = OFA_RESNET50
    torch.manual_seed(0)
    static = OFAResNet(space, 10).extract(ResNetConfig.smallest(space, 128))
    report = export_model(static, "onnx", "fp32", tmp_path / "out", calib_data="builtin", calib_images=8, val_images=8,
                          latency_repeats=2)
    assert report.results[0].status == "passed" and (tmp_path / "out" / "model_fp32.onnx").is_file()
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert meta["space"] == "ofa_resnet50" and meta["subnet"]["w"] == [0] * 6

