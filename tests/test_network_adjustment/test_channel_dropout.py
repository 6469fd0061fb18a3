"""Channel dropout: whole (sample, channel) planes, the mean preserved, identity at p = 0, active in
eval mode, reproducible; attached after every width of a derived backbone without changing its state."""
import pytest
import torch

from mmadapt.models import DerivedMobileNetV2, DerivedResNet
from mmadapt.models.channel_dropout import ChannelDropout, attach_channel_dropout, set_dropout_rates


def test_bernoulli_drops_whole_planes_at_the_rate_and_keeps_the_mean():
    x = torch.rand(400, 64, 3, 3) + 0.5
    drop = ChannelDropout(0.3).eval()  # eval mode: still active
    y = drop(x)
    ratio = y / x
    flat = ratio.flatten(2)
    # every (sample, channel) plane is scaled by one factor: 0 or 1 / (1 - p)
    assert torch.allclose(flat.max(-1).values, flat.min(-1).values)
    scale = flat[..., 0]
    assert torch.all((scale == 0) | torch.isclose(scale, torch.tensor(1 / 0.7)))
    zero = (flat[..., 0] == 0).float().mean().item()
    assert zero == pytest.approx(0.3, abs=0.02)
    assert y.mean().item() == pytest.approx(x.mean().item(), rel=0.02)


def test_gaussian_keeps_the_mean_with_the_bernoulli_variance():
    x = torch.ones(2000, 64, 1, 1)
    y = ChannelDropout(0.2, 'gaussian')(x)
    assert y.mean().item() == pytest.approx(1.0, abs=0.01)
    assert y.var().item() == pytest.approx(0.2 / 0.8, rel=0.05)


def test_identity_at_zero_reproducible_with_a_generator_and_bad_rates_refused():
    x = torch.randn(4, 8, 5, 5)
    assert torch.equal(ChannelDropout(0.0)(x), x)
    a, b = ChannelDropout(0.5), ChannelDropout(0.5)
    a.generator = torch.Generator().manual_seed(3)
    b.generator = torch.Generator().manual_seed(3)
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a(x), a(x))  # the generator advances: a new mask per call
    for p in (1.0, -0.1, float('nan')):
        with pytest.raises(ValueError, match=r'\[0, 1\)'):
            ChannelDropout(p)
    with pytest.raises(ValueError, match='bernoulli'):
        ChannelDropout(0.1, 'uniform')


def test_attached_dropout_leaves_the_state_dict_and_the_function_alone_at_zero():
    torch.manual_seed(0)
    net = DerivedResNet(spec='resnet18', out_indices=(3, )).eval()
    keys = set(net.state_dict())
    x = torch.randn(2, 3, 64, 64)
    before = net(x)[0]
    drops = attach_channel_dropout(net)
    assert list(drops) == ['s0.b0.h', 's0.b1.h', 's0.out', 's1.b0.h', 's1.b1.h', 's1.out', 's2.b0.h', 's2.b1.h',
                           's2.out', 's3.b0.h', 's3.b1.h', 's3.out']
    assert set(net.state_dict()) == keys
    assert torch.equal(net(x)[0], before)
    assert attach_channel_dropout(net) == drops  # attaching twice returns the same modules


def test_one_layer_dropping_zeroes_its_channels_only():
    torch.manual_seed(0)
    net = DerivedMobileNetV2(spec='mobilenet_v2', out_indices=(7, )).eval()
    drops = attach_channel_dropout(net)
    seen = {}
    block = net.stages[2][1]
    block.depthwise_conv.register_forward_hook(lambda m, i, o: seen.__setitem__('dw', o))
    x = torch.randn(3, 3, 64, 64)
    net(x)
    alive = seen['dw'].flatten(2).abs().sum(-1) > 0  # channels not already dead after ReLU6
    ref = net(x)[0]
    set_dropout_rates(drops, {'s2.b1.h': 0.5})
    out = net(x)[0]
    dropped = (seen['dw'].flatten(2).abs().sum(-1) == 0) & alive
    frac = dropped.sum().item() / alive.sum().item()
    assert 0.35 < frac < 0.65  # about half of the live hidden channels of that block, per sample
    assert not torch.equal(out, ref)
    set_dropout_rates(drops, 0.0)
    assert torch.equal(net(x)[0], ref)
    # the other blocks' widths were not touched: the block before sees the same input as without dropout
    before = {}
    net.stages[2][0].register_forward_hook(lambda m, i, o: before.__setitem__('o', o))
    net(x)
    a = before['o']
    set_dropout_rates(drops, {'s2.b1.h': 0.5})
    net(x)
    assert torch.equal(before['o'], a)


def test_a_stage_width_drops_the_same_channels_in_every_block_of_the_stage():
    torch.manual_seed(0)
    net = DerivedResNet(spec='resnet18', out_indices=(3, )).eval()
    drops = attach_channel_dropout(net)
    outs = []
    for blk in net.stages[1]:
        blk.register_forward_hook(lambda m, i, o: outs.append(o))
    x = torch.randn(2, 3, 64, 64)
    net(x)
    alive = [o.flatten(2).abs().sum(-1) > 0 for o in outs]
    outs.clear()
    set_dropout_rates(drops, {'s1.out': 0.5})
    net(x)
    dropped = [(o.flatten(2).abs().sum(-1) == 0) & a for o, a in zip(outs, alive)]
    # about half of the live channels are dropped at the first block's output, the same ones at the second's
    assert 0.3 < dropped[0].sum().item() / alive[0].sum().item() < 0.7
    both = alive[0] & alive[1]
    assert torch.equal(dropped[0] & both, dropped[1] & both)
