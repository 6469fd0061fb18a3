"""Remapping between ResNets with zero-padded shortcuts (``shortcut: pad`` / ``pad_proj``) of different widths."""
import pytest
import torch

from mmadapt.arch import load_spec, spec_from_dict
from mmadapt.models import DerivedResNet
from mmadapt.remap import remap_into, remap_state_dict, seed_template
from mmadapt.remap.convs import BlockDesc, block_convs

from .test_network import randomise_bn


def _variant(base, blocks, name):
    d = load_spec(base).to_dict()
    d['name'] = name
    for s, tokens in enumerate(blocks):
        d['stages'][s]['blocks'] = tokens
    return spec_from_dict(d)


NARROW = (['k3g1_h6_c12', 'k3g1_h6_c17', 'k3g1_h9'], ['k3g1_h26_c23', 'k3g1_h12_c20', 'k3g1_h29_c29'],
          ['k3g1_h48_c40', 'k3g1_h33_c57', 'k3g1_h12_c32'])
WIDE = (['k3g1_h24_c20', 'k3g1_h16_c24', 'k3g1'], ['k3g1_h40_c48', 'k3g1_h40', 'k3g1_h48_c48'],
        ['k3g1_h96_c80', 'k3g1_h64_c96', 'k5g1_h112_c128'])


def _seed(spec='resnet20_cifar', seed=0):
    torch.manual_seed(seed)
    return randomise_bn(DerivedResNet(spec=spec, init_cfg=[]), seed)


def test_same_spec_remap_reproduces_the_function():
    for name in ('resnet20_cifar', 'resnet18_padded'):
        src = _seed(name)
        dst = DerivedResNet(spec=name, init_cfg=[])
        report = remap_into(dst, name, src.state_dict())
        assert not report.unfilled and not report.unused
        dst.eval()
        x = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            assert torch.equal(dst(x)[-1], src(x)[-1])


@pytest.mark.parametrize('blocks,name', [(NARROW, 'r20_narrow'), (WIDE, 'r20_wide')])
def test_remap_into_a_derived_pad_spec_of_other_widths(blocks, name):
    src = _seed()
    spec = _variant('resnet20_cifar', blocks, name)
    dst = DerivedResNet(spec=spec, init_cfg=[])
    assert list(seed_template(spec)) == list(dst.state_dict())
    report = remap_into(dst, 'resnet20_cifar', src.state_dict())
    assert not report.unfilled and not report.unused  # no downsample on either side
    assert not any('downsample' in k for k in dst.state_dict())
    dst.eval()
    with torch.no_grad():
        out = dst(torch.randn(2, 3, 32, 32))[-1]
    assert out.shape == (2, spec.stage_out_channels()[-1], 8, 8) and torch.isfinite(out).all()
    # and back into the seed: every tensor is filled
    back = DerivedResNet(spec='resnet20_cifar', init_cfg=[])
    report = remap_into(back, spec, dst.state_dict())
    assert not report.unfilled


def test_remap_keeps_leading_channels_of_conv_paths():
    src = _seed()
    spec = _variant('resnet20_cifar', NARROW, 'r20_narrow')
    state, _ = remap_state_dict('resnet20_cifar', src.state_dict(), spec,
                                DerivedResNet(spec=spec, init_cfg=[]).state_dict())
    # stage 1 layer 1: input 23 (running max), hidden 12, conv path 20
    w = state['stages.1.1.conv2.conv.weight']
    assert w.shape == (20, 12, 3, 3)
    assert torch.equal(w, src.state_dict()['stages.1.1.conv2.conv.weight'][:20, :12])
    w = state['stages.1.1.conv1.conv.weight']
    assert w.shape == (12, 23, 3, 3)


def test_pad_proj_projection_blocks_remap_their_downsample():
    src = _seed('resnet18_padded')
    spec = _variant('resnet18_padded', (['k3g1_h40_c48', 'k3g1_h80'], ['k3g1_h100_c96', 'k3g1_c160'],
                                        ['k3g1_h200_c300', 'k3g1_h0'], ['k3g1_c400', 'k3g1_h300_c600']), 'r18_var')
    infos = spec.layers()
    assert [('downsample' in block_convs(BlockDesc(spec, i, i.candidates[0]))) for i in infos] == \
        [False, False, True, False, True, False, True, False]
    dst = DerivedResNet(spec=spec, init_cfg=[])
    report = remap_into(dst, 'resnet18_padded', src.state_dict())
    assert not report.unfilled
    assert dst.state_dict()['stages.1.0.downsample.conv.weight'].shape == (96, 64, 1, 1)
    dst.eval()
    with torch.no_grad():
        assert dst(torch.randn(1, 3, 64, 64))[-1].shape == (1, 600, 2, 2)
