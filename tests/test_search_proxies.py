"""Zero-cost proxies: finite, deterministic, leave the network alone, and each shows the property its paper
names (a layer of zeros cuts SynFlow's paths; one shared code makes NASWOT's kernel singular; ...)."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from conftest import TINY, randomize
from ofa import ConfigError, SubnetConfig, get_space
from ofa.data import open_dataset
from ofa.nn.supernet import OFASupernet
from ofa.search.proxies import PROXIES, make_proxy_batches, score


@pytest.fixture(scope="module")
def batches():
    return make_proxy_batches(open_dataset("builtin"), batches=2, batch_size=24, seed=0)


@pytest.fixture(scope="module")
def subnet():
    supernet = randomize(OFASupernet(get_space(TINY), num_classes=10)).eval()
    return supernet.extract(SubnetConfig.largest(supernet.space, r=24))


def _zeroed(net, module_name: str):
    net = copy.deepcopy(net)
    with torch.no_grad():
        dict(net.named_modules())[module_name].weight.zero_()
    return net


@pytest.mark.parametrize("name", PROXIES.names())
def test_each_proxy_is_finite_deterministic_and_leaves_the_network_alone(name, subnet, batches):
    before = {k: v.clone() for k, v in subnet.state_dict().items()}
    first = score(name, subnet, batches, seed=3)
    assert math.isfinite(first)
    assert score(name, subnet, batches, seed=3) == first
    after = subnet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before) and not subnet.training


def test_the_registry_names_the_five_proxies_and_refuses_an_unknown_one():
    assert PROXIES.names() == ["grad_norm", "meco", "naswot", "synflow", "zico"]
    with pytest.raises(ConfigError, match="known: grad_norm, meco"):
        PROXIES.get("jacov")


def test_synflow_collapses_when_one_layer_is_zero(subnet, batches):
    intact = score("synflow", subnet, batches)
    cut = score("synflow", _zeroed(subnet, "blocks.1.dw_conv"), batches)
    assert intact > 0 and 0 <= cut < intact * 1e-3  # a stage-opening block has no residual: only biases behind the cut carry a path


def test_naswot_scores_minus_infinity_when_every_image_gets_the_same_code(subnet, batches):
    assert math.isfinite(score("naswot", subnet, batches))
    assert score("naswot", _zeroed(subnet, "stem.conv"), batches) == -math.inf


def test_meco_is_zero_when_two_channels_are_copies_and_bounded_by_the_layer_count(subnet, batches):
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in subnet.modules())
    assert 0 < score("meco", subnet, batches) <= convs  # each smallest eigenvalue of a correlation matrix is in [0, 1]
    torch.manual_seed(0)
    layer = torch.nn.Conv2d(3, 4, 3, padding=1)
    assert score("meco", layer, batches) > 1e-3
    with torch.no_grad():
        layer.weight[1], layer.bias[1] = layer.weight[0], layer.bias[0]
    assert score("meco", layer, batches) == pytest.approx(0, abs=1e-9)  # two equal rows: a singular matrix


def test_zico_needs_varying_gradients(subnet, batches):
    assert score("zico", subnet, batches) > 0
    assert score("zico", subnet, [batches[0], batches[0]]) == 0  # identical batches: no gradient varies
    with pytest.raises(ConfigError, match="at least 2 batches"):
        score("zico", subnet, batches[:1])


def test_grad_norm_of_a_zeroed_classifier_is_the_classifier_gradient_alone(subnet, batches):
    net = _zeroed(subnet, "classifier")
    work = copy.deepcopy(net).eval()
    for m in work.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.train()
    batch = batches[0].at(24)
    torch.nn.functional.cross_entropy(work(batch.images), batch.labels).backward()
    by_hand = float(work.classifier.weight.grad.norm())
    assert by_hand > 0 and score("grad_norm", net, batches) == pytest.approx(by_hand, rel=1e-6)
