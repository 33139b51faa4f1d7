"""The official OFA-MobileNetV3 checkpoint imports and reproduces the official logits."""

import json
import subprocess
import sys

import pytest
import torch

from ofa import ArtifactError, ConfigError, SubnetConfig, load_subnet
from ofa.official import import_official

# Official logits are ~0.04 in magnitude; we reproduce them to float32 rounding (~2e-8 measured).
ATOL = 1e-6


def _cases(ref):
    cases = json.loads((ref / "cases.json").read_text())["cases"]
    inputs = torch.load(ref / "inputs.pt", weights_only=True)
    outputs = torch.load(ref / "outputs.pt", weights_only=True)
    return cases, inputs, outputs


def _config(case, space):
    # The fixture's inputs are 64-128 px (below the space's 128-224 list): the network runs at any
    # size, so the config carries a valid r and the input tensor sets the real resolution.
    return SubnetConfig.from_dict({"ks": case["ks"], "e": case["e"], "d": case["d"], "r": 224}, space)


@pytest.fixture(scope="module")
def imported(ofa_reference):
    return import_official(ofa_reference / "supernet_state_dict.pt")


def test_supernet_and_extracted_reproduce_all_12_official_cases(imported, ofa_reference):
    cases, inputs, outputs = _cases(ofa_reference)
    assert len(cases) == 12
    for case in cases:
        i = case["index"]
        cfg = _config(case, imported.space)
        imported.set_active(cfg)
        with torch.no_grad():
            supernet_out = imported(inputs[f"x{i}"])
            static_out = imported.extract(cfg)(inputs[f"x{i}"])
        torch.testing.assert_close(supernet_out, outputs[f"y{i}"], rtol=0, atol=ATOL)
        torch.testing.assert_close(static_out, outputs[f"y{i}"], rtol=0, atol=ATOL)


def test_extracted_structure_matches_official_net_config(imported, ofa_reference):
    cases, _, _ = _cases(ofa_reference)
    for case in cases:
        net = imported.extract(_config(case, imported.space))
        official = [b["conv"] for b in case["net_config"]["blocks"]]
        assert len(official) == len(net.blocks)
        for ours, theirs in zip(net.blocks, official):
            assert ours.dw_conv.kernel_size[0] == theirs["kernel_size"]
            assert ours.dw_conv.stride[0] == theirs["stride"]
            assert ours.project_conv.out_channels == theirs["out_channels"]
            assert (ours.se is not None) == theirs["use_se"]
            if theirs["expand_ratio"] != 1:
                assert ours.expand_conv.out_channels == theirs["mid_channels"]


def test_legacy_key_names_import_identically(imported, ofa_reference, tmp_path):
    state = torch.load(ofa_reference / "supernet_state_dict.pt", weights_only=True)
    legacy = {}
    for key, value in state.items():
        key = key.replace(".conv.", ".mobile_inverted_conv.", 1) if key.startswith("blocks.") else key
        legacy[key.replace(".bn.bn.", ".bn.")] = value
    torch.save({"state_dict": legacy}, tmp_path / "legacy.pth")
    other = import_official(tmp_path / "legacy.pth")
    for name, tensor in imported.state_dict().items():
        assert torch.equal(tensor, other.state_dict()[name]), name


def test_bad_checkpoints_give_typed_errors(ofa_reference, tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        import_official(tmp_path / "nope.pth")
    state = torch.load(ofa_reference / "supernet_state_dict.pt", weights_only=True)
    torch.save({k: v for k, v in state.items() if "blocks.3." not in k}, tmp_path / "partial.pth")
    with pytest.raises(ArtifactError, match="lacks"):
        import_official(tmp_path / "partial.pth")
    torch.save(state | {"mystery.weight": torch.zeros(1)}, tmp_path / "extra.pth")
    with pytest.raises(ArtifactError, match="does not know"):
        import_official(tmp_path / "extra.pth")
    with pytest.raises(ArtifactError, match="do not fit"):
        import_official(ofa_reference / "supernet_state_dict.pt", space="ofa_mbv3_d234_e346_k357_w1.2")
    with pytest.raises(ConfigError, match="unknown search space"):
        import_official(ofa_reference / "supernet_state_dict.pt", space="nope")


def test_cli_import_then_extract_matches_official(ofa_reference, tmp_path):
    ofa = [sys.executable, "-m", "ofa.cli.main"]
    subprocess.run(ofa + ["import-official", str(ofa_reference / "supernet_state_dict.pt"), "--out", str(tmp_path / "sn")],
                   check=True, capture_output=True)
    cases, inputs, outputs = _cases(ofa_reference)
    case = cases[2]
    (tmp_path / "c.json").write_text(json.dumps({"space": "ofa_mbv3_d234_e346_k357_w1.0", "ks": case["ks"],
                                                 "e": case["e"], "d": case["d"], "r": 128}))
    subprocess.run(ofa + ["extract", str(tmp_path / "sn"), "--subnet", str(tmp_path / "c.json"), "--out", str(tmp_path / "sub")],
                   check=True, capture_output=True)
    net = load_subnet(tmp_path / "sub")
    with torch.no_grad():
        torch.testing.assert_close(net(inputs["x2"]), outputs["y2"], rtol=0, atol=ATOL)
