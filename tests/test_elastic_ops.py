import torch
import torch.nn.functional as F

from conftest import randomize
from ofa import SubnetConfig
from ofa.nn.elastic import ElasticBatchNorm, ElasticDepthwiseConv, ElasticPointwiseConv, ElasticSE


def _transformed_kernel(weight, matrices, target):
    """Independent re-statement of OFA's kernel transform: crop the centre, multiply, repeat."""
    w = weight
    size = w.shape[-1]
    while size > target:
        small = size - 2
        crop = w[:, :, 1 : 1 + small, 1 : 1 + small]
        w = (crop.reshape(-1, small * small) @ matrices[f"{size}to{small}"].t()).reshape(w.shape[0], 1, small, small)
        size = small
    return w


def test_elastic_kernel_equals_conv_with_transformed_weights():
    torch.manual_seed(0)
    conv = ElasticDepthwiseConv(12, (3, 5, 7), stride=2)
    with torch.no_grad():
        for p in conv.kernel_transforms.values():
            p.add_(torch.randn_like(p) * 0.3)
    x = torch.randn(2, 8, 15, 15)
    mats = {k: v.detach() for k, v in conv.kernel_transforms.items()}
    for k in (3, 5, 7):
        expected = F.conv2d(x, _transformed_kernel(conv.weight[:8].detach(), mats, k), None, 2, k // 2, 1, 8)
        torch.testing.assert_close(conv(x, k), expected, rtol=0, atol=1e-6)
    # identity transforms reduce to a plain centre crop
    plain = ElasticDepthwiseConv(4, (3, 5, 7))
    torch.testing.assert_close(plain.static_weight(4, 3), plain.weight[:, :, 2:5, 2:5])


def test_kernel_transform_gets_gradients():
    conv = ElasticDepthwiseConv(4, (3, 5, 7))
    conv(torch.randn(1, 4, 8, 8), 3).sum().backward()
    assert conv.kernel_transforms["7to5"].grad.abs().sum() > 0
    assert conv.kernel_transforms["5to3"].grad.abs().sum() > 0


def test_pointwise_slices_first_channels():
    conv = ElasticPointwiseConv(16, 32)
    x = torch.randn(2, 10, 5, 5)
    torch.testing.assert_close(conv(x, 20), F.conv2d(x, conv.weight[:20, :10]))


def test_batchnorm_slice_eval_and_in_place_training_update():
    bn = randomize(ElasticBatchNorm(16), 1)
    x = torch.randn(4, 10, 3, 3)
    bn.eval()
    ref = (x - bn.running_mean[:10, None, None]) / torch.sqrt(bn.running_var[:10, None, None] + bn.eps)
    ref = ref * bn.weight[:10, None, None] + bn.bias[:10, None, None]
    torch.testing.assert_close(bn(x), ref, rtol=1e-5, atol=1e-5)
    before = bn.running_mean.clone()
    bn.train()
    bn(x)
    assert not torch.equal(bn.running_mean[:10], before[:10])  # active slice updated in place
    assert torch.equal(bn.running_mean[10:], before[10:])  # the rest untouched


def test_se_follows_active_channels():
    se = ElasticSE(48)
    x = torch.randn(2, 24, 4, 4)
    mid = se.mid_channels(24)
    y = x.mean((2, 3), keepdim=True)
    y = torch.relu(F.conv2d(y, se.reduce.weight[:mid, :24], se.reduce.bias[:mid]))
    y = F.hardsigmoid(F.conv2d(y, se.expand.weight[:24, :mid], se.expand.bias[:24]))
    torch.testing.assert_close(se(x), x * y)


def test_depth_runs_first_d_blocks_of_each_stage(tiny_supernet):
    net = tiny_supernet
    cfg = SubnetConfig.sample(net.space, 0, d=(1,))
    net.set_active(cfg)
    d = net.space.max_depth
    expected = [net.blocks[0]] + [net.blocks[1 + s * d] for s in range(net.space.n_stages)]
    assert net.active_blocks() == expected


def test_channel_reorganisation_keeps_the_function(tiny_supernet):
    net = tiny_supernet
    x = torch.randn(2, 3, 32, 32)
    cfg = SubnetConfig.largest(net.space)
    net.set_active(cfg)
    with torch.no_grad():
        before = net(x)
        net.reorganize_channels()
        after = net(x)
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    # and the most important hidden channels now come first
    w = net.blocks[1].project_conv.weight.abs().sum(dim=(0, 2, 3))
    assert torch.all(w[:-1] >= w[1:])


def test_active_config_round_trip(tiny_supernet):
    cfg = tiny_supernet.sample_active(5)
    assert tiny_supernet.active_config() == cfg
