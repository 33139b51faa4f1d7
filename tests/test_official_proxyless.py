"""OFA-ProxylessNAS: official supernets import and reproduce the official logits (supernet and extracted).

The fixture (tests/fixtures/official_proxyless_w0.35, made by bench/official_fixtures.py from the official
package) is the official class at width 0.35 so that it stays small (3 MB); its BN statistics, affine
parameters, kernel-transform matrices and classifier bias are perturbed. The full-size w1.3 space is checked
structurally: every key and shape of the official w1.3 state dict maps onto ours.
"""

import json
import tempfile
from pathlib import Path

import pytest
import torch

from ofa.official import config_from_official, import_official
from ofa.spaces import get_space
from ofa.spaces.builtin import ofa_proxyless

FIXTURES = Path(__file__).parent / "fixtures"
SMALL = FIXTURES / "official_proxyless_w0.35"
ATOL = 1e-5


@pytest.fixture(scope="module")
def small():
    space = ofa_proxyless(0.35, resolutions=(32, 48, 64))
    net = import_official(SMALL / "supernet_state_dict.pt", space)
    cases = json.loads((SMALL / "cases.json").read_text())
    return net, cases, torch.load(SMALL / "inputs.pt", weights_only=True), torch.load(SMALL / "outputs.pt", weights_only=True)


def test_supernet_and_extracted_reproduce_the_official_logits_at_several_resolutions(small):
    net, cases, inputs, outputs = small
    assert len(cases) == 6 and {c["resolution"] for c in cases} == {32, 48, 64}
    worst = 0.0
    for i, case in enumerate(cases):
        cfg = config_from_official(net.space, case["ks"], case["e"], case["d"], case["resolution"])
        net.set_active(cfg)
        with torch.no_grad():
            ours, extracted = net(inputs[f"x{i}"]), net.extract(cfg)(inputs[f"x{i}"])
        for theirs in (outputs[f"y{i}"], outputs[f"s{i}"]):
            torch.testing.assert_close(ours, theirs, rtol=0, atol=ATOL)
            torch.testing.assert_close(extracted, theirs, rtol=0, atol=ATOL)
            worst = max(worst, float((ours - theirs).abs().max()), float((extracted - theirs).abs().max()))
    assert worst < ATOL and float(outputs["y0"].abs().max()) > 100 * ATOL  # logits are far from the tolerance


def test_extracted_structure_matches_the_official_net_config(small):
    net, cases, _, _ = small
    for case in cases:
        cfg = config_from_official(net.space, case["ks"], case["e"], case["d"], case["resolution"])
        static = net.extract(cfg)
        official = [b["conv"] for b in case["net_config"]["blocks"]]
        assert len(official) == len(static.blocks)
        for ours, theirs in zip(static.blocks, official):
            assert ours.dw_conv.kernel_size[0] == theirs["kernel_size"] and ours.dw_conv.stride[0] == theirs["stride"]
            assert ours.project_conv.out_channels == theirs["out_channels"] and ours.se is None
            assert isinstance(ours.act, torch.nn.ReLU6) and ours.dw_bn.eps == 1e-3
            if theirs["expand_ratio"] != 1:
                assert ours.expand_conv.out_channels == theirs["mid_channels"]
        head = case["net_config"]["feature_mix_layer"]  # the official pre-pool conv = our final_expand
        assert static.feature_mix is None and static.final_expand.conv.out_channels == head["out_channels"]


def test_official_depth_of_the_last_stage_is_clamped_to_one_block(small):
    net, cases, _, _ = small
    sampled = cases[2]  # the official sampler writes d[-1] = 1
    assert sampled["d"][-1] == 1
    cfg = config_from_official(net.space, sampled["ks"], sampled["e"], sampled["d"], 32)
    assert cfg.d[-1] == 2 and len(cfg.ks) == 24 and cfg.active_slots(net.space)[-1] == 20
    four = config_from_official(net.space, sampled["ks"], sampled["e"], [*sampled["d"][:-1], 4], 32)
    assert four.canonical(net.space) == cfg.canonical(net.space)


def test_full_size_w1_3_official_keys_and_shapes_all_map_onto_the_space():
    shapes = json.loads((FIXTURES / "official_proxyless_w1.3_shapes.json").read_text())
    state = {k: torch.zeros(v) for k, v in shapes.items()}
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(state, Path(tmp) / "w13.pth")
        net = import_official(Path(tmp) / "w13.pth")  # the space is inferred from the 40-channel stem
    assert net.space.id == "ofa_proxyless_d234_e346_k357_w1.3" and net.num_classes == 1000
    assert net.space == get_space("ofa_proxyless_d234_e346_k357_w1.3")
    assert sum(t.numel() for t in net.state_dict().values() if t.dtype.is_floating_point) == sum(
        torch.Size(v).numel() for k, v in shapes.items() if not k.endswith("num_batches_tracked"))


def test_a_proxyless_checkpoint_of_an_unknown_width_asks_for_the_space():
    from ofa.errors import ConfigError
    from ofa.official import infer_space, read_checkpoint

    state = read_checkpoint(SMALL / "supernet_state_dict.pt")  # w0.35: a 16-channel stem, as MobileNetV3 w1.0
    with pytest.raises(ConfigError, match="no built-in official ProxylessNAS space has a stem of 16 channels"):
        infer_space(state)
