"""ResNets with zero-padded, parameter-free shortcuts (``shortcut: pad`` / ``pad_proj`` specs)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmadapt.arch import load_spec, spec_from_dict
from mmadapt.models import DerivedResNet, SuperResNet
from mmadapt.models.backbones import ElasticResNet, ResBlock
from mmadapt.remap import seed_template

from ..test_remap.test_network import randomise_bn


def randomise(model, seed=0):
    """Random conv weights and non-trivial BN statistics and affine parameters, in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=gen) * (2 / m.weight[0].numel()) ** 0.5)
    return randomise_bn(model, seed + 1)


def test_resnet20_cifar_forward_and_structure():
    net = DerivedResNet(spec='resnet20_cifar', out_indices=(0, 1, 2), init_cfg=[]).eval()
    outs = net(torch.randn(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 16, 32, 32), (2, 32, 16, 16), (2, 64, 8, 8)]
    assert net.out_channels == (16, 32, 64) and net.out_strides == (1, 2, 4)
    assert DerivedResNet(spec='resnet20_cifar', init_cfg=[])(torch.randn(2, 3, 32, 32))[-1].shape == (2, 64, 8, 8)
    assert not any(n.endswith('downsample') for n, _ in net.named_modules())
    pooled = [n for n, m in net.named_modules() if isinstance(m, ResBlock) and m.pool is not None]
    assert pooled == ['stages.1.0', 'stages.2.0']
    assert list(seed_template('resnet20_cifar', (0, 1, 2))) == list(net.state_dict())
    # odd sizes: the pooled identity has the strided conv's size
    assert net(torch.randn(1, 3, 33, 31))[-1].shape == (1, 64, 9, 8)


def _capture(net, name, x):
    """Input and output of the block ``name`` in a forward of ``x``."""
    block = dict(net.named_modules())[name]
    seen = {}
    handle = block.register_forward_hook(lambda m, i, o: seen.update(x=i[0], y=o))
    with torch.no_grad():
        net(x)
    handle.remove()
    return block, seen['x'], seen['y']


def test_a_narrow_conv_path_is_zero_padded_at_the_back():
    d = load_spec('resnet20_cifar').to_dict()
    d['stages'][0]['blocks'] = ['k3g1', 'k3g1_h8_c10', 'k3g1']  # stride 1: 16 -> conv path 10 -> 16
    d['stages'][1]['blocks'] = ['k3g1_c12', 'k3g1', 'k3g1']  # stride 2: pooled 16 -> conv path 12 -> 16
    d['stages'][2]['blocks'] = ['k3g1', 'k3g1_c80', 'k3g1']  # wider conv path: the identity is padded
    net = randomise(DerivedResNet(spec=spec_from_dict(d), init_cfg=[]))
    x = torch.randn(2, 3, 20, 18)
    block, inp, out = _capture(net, 'stages.0.1', x)
    assert (block.conv_out, block.out_channels, block.pool) == (10, 16, None)
    assert torch.equal(out[:, 10:], F.relu(inp[:, 10:]))  # the trailing channels are the identity's
    block, inp, out = _capture(net, 'stages.1.0', x)
    assert (block.conv_out, block.out_channels, block.stride) == (12, 16, 2)
    pooled = F.avg_pool2d(inp, 2, 2, ceil_mode=True)
    assert out.shape == (2, 16, 10, 9) and torch.equal(out[:, 12:], F.relu(pooled[:, 12:]))
    # and the leading ones are conv path + identity
    y = block.conv2(block.conv1(inp))
    assert torch.allclose(out[:, :12], F.relu(y + pooled[:, :12]), atol=1e-6)
    block, inp, out = _capture(net, 'stages.2.1', x)
    assert (inp.shape[1], block.conv_out, out.shape[1]) == (64, 80, 80)
    y = block.conv2(block.conv1(inp))
    assert torch.allclose(out, F.relu(y + F.pad(inp, (0, 0, 0, 0, 0, 16))), atol=1e-6)


def test_pad_proj_resnet18_is_torchvisions_resnet18():
    conv = randomise(DerivedResNet(spec='resnet18', init_cfg=[]))
    padded = DerivedResNet(spec='resnet18_padded', init_cfg=[]).eval()
    assert list(padded.state_dict()) == list(conv.state_dict())
    padded.load_state_dict(conv.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 72)
    with torch.no_grad():
        assert torch.equal(padded(x)[-1], conv(x)[-1])


def test_bottleneck_pad_blocks_run():
    d = load_spec('resnet50').to_dict()
    d['shortcut'] = 'pad'
    d['stages'][1]['blocks'][1] = 'k3g1_c256'  # narrower than the running 512
    net = randomise(DerivedResNet(spec=spec_from_dict(d), out_indices=(1, ), init_cfg=[]))
    block, inp, out = _capture(net, 'stages.1.1', torch.randn(1, 3, 64, 64))
    assert (block.conv_out, block.hidden, out.shape[1]) == (256, 64, 512)
    assert block.conv3.conv.out_channels == 256
    assert torch.equal(out[:, 256:], F.relu(inp[:, 256:]))


def test_resblock_arguments():
    with pytest.raises(ValueError, match='pool_identity'):
        ResBlock('basic', 16, 16, stride=2, shortcut='identity')
    with pytest.raises(ValueError, match='pool_identity is the identity shortcut of a stride-2 block'):
        ResBlock('basic', 16, 16, stride=1, shortcut='identity', pool_identity=True)
    with pytest.raises(ValueError, match='pool_identity is the identity shortcut of a stride-2 block'):
        ResBlock('basic', 16, 32, stride=2, shortcut='conv', pool_identity=True)


@pytest.mark.parametrize('cls', [SuperResNet, ElasticResNet])
@pytest.mark.parametrize('spec', ['resnet20_cifar', 'resnet18_padded'])
def test_super_and_elastic_backbones_refuse_padded_shortcuts(cls, spec):
    with pytest.raises(ValueError, match=r"shortcut 'conv' only.*shortcut 'pad.*mmadapt.DerivedResNet"):
        cls(spec=spec)
