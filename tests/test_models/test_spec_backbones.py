"""Derived and super backbones: structure against torchvision / timm, outputs, search modes, freezing."""
import pytest
import torch
import torch.nn as nn

from mmadapt.arch import load_spec, path_spec, spec_from_dict
from mmadapt.models import DerivedMobileNetV2, DerivedResNet, SuperMobileNetV2, SuperResNet
from mmadapt.models.backbones import MBConv, ResBlock


def _backbone_shapes(model, drop):
    return sorted(tuple(p.shape) for n, p in model.named_parameters() if not n.startswith(drop))


@pytest.mark.parametrize('cls,spec,tv_name,classifier', [
    (DerivedMobileNetV2, None, 'mobilenet_v2', 'classifier'),
    (DerivedResNet, None, 'resnet50', 'fc'),
    (DerivedResNet, 'resnet18', 'resnet18', 'fc'),
])
def test_default_derived_backbones_match_torchvision(cls, spec, tv_name, classifier):
    import torchvision
    ours = cls(spec=spec)
    theirs = getattr(torchvision.models, tv_name)()
    assert _backbone_shapes(ours, 'x') == _backbone_shapes(theirs, classifier)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for n, p in theirs.named_parameters() if not n.startswith(classifier))
    assert n_ours == n_theirs
    n_buffers = sum(b.numel() for b in ours.buffers())
    assert n_buffers == sum(b.numel() for b in theirs.buffers())


@pytest.mark.parametrize('spec,timm_name', [('mobilenet_v2', 'mobilenetv2_100'), ('fbnet_c', 'fbnetc_100')])
def test_nas_seeds_match_timm(spec, timm_name):
    timm = pytest.importorskip('timm')
    ours = DerivedMobileNetV2(spec=spec)
    theirs = timm.create_model(timm_name, pretrained=False)
    assert _backbone_shapes(ours, 'x') == _backbone_shapes(theirs, 'classifier')


def test_derived_outputs_channels_and_strides():
    x = torch.randn(2, 3, 64, 96)
    b = DerivedMobileNetV2(out_indices=tuple(range(8)))
    outs = b(x)
    assert b.out_channels == (16, 24, 32, 64, 96, 160, 320, 1280)
    assert b.out_strides == (2, 4, 8, 16, 16, 32, 32, 32)
    for o, c, s in zip(outs, b.out_channels, b.out_strides):
        assert o.shape == (2, c, 64 // s, 96 // s)
    r = DerivedResNet(spec='resnet18', out_indices=(0, 1, 2, 3))
    assert r.out_channels == (64, 128, 256, 512) and r.out_strides == (4, 8, 16, 32)
    assert [tuple(o.shape) for o in r(x)] == [(2, c, 64 // s, 96 // s) for c, s in zip(r.out_channels, r.out_strides)]
    assert r.feature_info[1] == dict(index=1, channels=128, stride=8)
    seg = DerivedMobileNetV2(spec='mobilenet_v2_os8', out_indices=(6, ))
    assert seg.out_strides == (8, ) and seg(x)[0].shape == (2, 320, 8, 12)


def test_derived_backbone_is_truncated_after_last_output():
    b = DerivedMobileNetV2(out_indices=(2, 4))
    assert len(b.stages) == 5 and b.head is None
    loss = sum(o.sum() for o in b(torch.randn(1, 3, 32, 32)))
    loss.backward()
    assert all(p.grad is not None for p in b.parameters()), 'every built parameter is used'


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'out_indices \(8,\) not allowed.*0..7 \(7 is the head conv\)'):
        DerivedMobileNetV2(out_indices=(8, ))
    with pytest.raises(ValueError, match=r'out_indices \(4,\).*0..3'):
        DerivedResNet(spec='resnet18', out_indices=(4, ))
    with pytest.raises(ValueError, match="spec 'fna_mbv2_det' has searchable layers.*SuperMobileNetV2"):
        DerivedMobileNetV2(spec='fna_mbv2_det')
    with pytest.raises(ValueError, match="DerivedResNet builds resnet specs; spec 'mobilenet_v2' is a mbv2"):
        DerivedResNet(spec='mobilenet_v2')
    with pytest.raises(ValueError, match='frozen_stages must be in -1..7'):
        DerivedMobileNetV2(frozen_stages=9)


def test_frozen_stages_and_norm_eval():
    b = DerivedMobileNetV2(frozen_stages=2, norm_eval=True, out_indices=(3, ))
    b.train()
    assert all(not p.requires_grad for m in [b.stem, b.stages[0], b.stages[1]] for p in m.parameters())
    assert all(p.requires_grad for p in b.stages[2].parameters())
    assert all(not m.training for m in b.modules() if isinstance(m, nn.BatchNorm2d))
    b2 = DerivedResNet(spec='resnet18', frozen_stages=0)
    b2.train()
    assert not any(p.requires_grad for p in b2.stem.parameters())
    assert b2.stem.bn.training is False and b2.stages[0][0].conv1.bn.training is True


def test_explicit_width_network_runs():
    d = load_spec('mobilenet_v2').to_dict()
    d['stages'][2]['blocks'] = ['k3e6', 'k5e6_h100_c40', 'k3e1_h0']
    d['stages'][3]['blocks'][1] = 'skip'
    b = DerivedMobileNetV2(spec=d, out_indices=(2, 3))
    layer = b.stages[2][1]
    assert isinstance(layer, MBConv) and layer.hidden == 100 and layer.shortcut
    assert b.stages[2][2].linear_conv is None  # bypassed
    outs = b(torch.randn(1, 3, 32, 32))
    assert outs[0].shape[1] == 32 and outs[1].shape[1] == 64
    # the zero-padded shortcut: with the body's last BN zeroed, the layer is the padded identity
    x = torch.randn(1, 32, 8, 8)
    layer.eval()
    nn.init.zeros_(layer.linear_conv.bn.weight)
    nn.init.zeros_(layer.linear_conv.bn.bias)
    y = layer(x)
    assert torch.equal(y[:, :32], x) and torch.equal(y[:, 32:], torch.zeros(1, 8, 8, 8))
    r = load_spec('resnet18').to_dict()
    r['stages'][1]['blocks'][1] = 'k5g4_h64_c96'
    net = DerivedResNet(spec=r, out_indices=(1, 2))
    blk = net.stages[1][1]
    assert isinstance(blk, ResBlock) and blk.conv1.conv.groups == 4 and blk.downsample is None
    assert [o.shape[1] for o in net(torch.randn(1, 3, 64, 64))] == [96, 256]


@pytest.mark.parametrize('cls,spec,out_indices,channels,strides', [
    (SuperMobileNetV2, 'fna_mbv2_det', (2, 4, 6), (32, 96, 320), (8, 16, 32)),
    (SuperMobileNetV2, 'fna_mbv2_seg_os16', (1, 2, 4, 6), (24, 32, 96, 320), (4, 8, 16, 16)),
    (SuperMobileNetV2, 'fna_mbv2_pose', (7, ), (1280, ), (32, )),
    (SuperResNet, 'fna_resnet18', (0, 1, 2, 3), (64, 128, 256, 512), (4, 8, 16, 32)),
])
def test_super_backbone_modes(cls, spec, out_indices, channels, strides):
    torch.manual_seed(0)
    b = cls(spec=spec, out_indices=out_indices)
    b.eval()
    assert b.out_channels == channels and b.out_strides == strides
    x = torch.randn(2, 3, 64, 64)
    n = b.num_search_layers
    assert n == len(b.arch_params) == len(load_spec(spec).searchable_layers())

    def check(outs):
        assert [tuple(o.shape) for o in outs] == [(2, c, 64 // s, 64 // s) for c, s in zip(channels, strides)]

    gen = torch.Generator().manual_seed(3)
    path = b.sample_path(generator=gen)
    assert b.path == path and b.mode == 'single'
    assert path == cls(spec=spec, out_indices=out_indices).sample_path(torch.Generator().manual_seed(3))
    single = b(x)
    check(single)
    # the derived network of the same path computes the same function with the same weights
    derived_cls = DerivedMobileNetV2 if cls is SuperMobileNetV2 else DerivedResNet
    derived = derived_cls(spec=path_spec(b.spec, path), out_indices=out_indices).eval()
    derived.load_state_dict(b.path_state_dict(), strict=True)
    for a, d in zip(single, derived(x)):
        torch.testing.assert_close(a, d)
    # fixed path
    b.set_path([0] * n)
    check(b(x))
    # mixture (Eq. 7), gradients reach every architecture parameter
    b.set_mode('mixture')
    b.train()
    outs = b(x)
    check(outs)
    sum(o.mean() for o in outs).backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in b.arch_params)


def test_mixture_is_the_softmax_weighted_sum():
    torch.manual_seed(0)
    b = SuperMobileNetV2(spec='fna_mbv2_det', out_indices=(1, )).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        for a in b.arch_params:
            a.fill_(-1e4)
            a[1] = 0.0  # one-hot on candidate 1 (k3e6): softmax is exactly one-hot in float32
    b.set_mode('mixture')
    mixed = b(x)[0]
    b.set_path([1] * b.num_search_layers)
    torch.testing.assert_close(mixed, b(x)[0])
    # a layer with two equal weights returns the mean of the two candidates
    layer = b.search_layers[0]
    feat = torch.randn(1, 16, 16, 16)
    w = torch.tensor([0.5, 0.5, 0, 0, 0, 0])
    with torch.no_grad():
        expected = 0.5 * layer.candidates[0](feat) + 0.5 * layer.candidates[1](feat)
        torch.testing.assert_close(layer(feat, w), expected)


def test_path_validation_and_parameter_split():
    b = SuperResNet(spec='fna_resnet18', out_indices=(0, ))
    assert b.num_search_layers == 2  # only the built stage
    with pytest.raises(ValueError, match='path has 3 entries; the super-net has 2 searchable layers'):
        b.set_path([0, 0, 0])
    with pytest.raises(ValueError, match=r'path\[1\] = 5: searchable layer 1 has candidates 0..4 '
                                          r'\(k3g1\|k5g2\|k5g4\|k7g4\|k7g8\)'):
        b.set_path([0, 5])
    arch = list(b.arch_parameters())
    weights = list(b.weight_parameters())
    assert len(arch) == 2 and not {id(p) for p in arch} & {id(p) for p in weights}
    assert len(arch) + len(weights) == len(list(b.parameters()))
    with torch.no_grad():
        b.arch_params[0][2] = 1.0
    assert b.derive().stages[0].layers[0][0].token == 'k5g4'
    assert b.argmax_path() == [2, 0]


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpose', 'mmpretrain'])
def test_backbones_build_from_every_framework(scope):
    """``mmadapt.X`` resolves from each framework's registry and default scope."""
    import importlib
    from mmengine.registry import DefaultScope
    models = importlib.import_module(f'{scope}.registry').MODELS
    cases = [('mmadapt.DerivedMobileNetV2', {}, 24), ('mmadapt.SuperMobileNetV2', {}, 24),
             ('mmadapt.DerivedResNet', dict(spec='resnet18'), 64),
             ('mmadapt.SuperResNet', dict(spec='fna_resnet18'), 64)]
    with DefaultScope.overwrite_default_scope(scope):
        for type_name, kwargs, channels in cases:
            out_indices = (1, ) if 'MobileNet' in type_name else (0, )
            m = models.build(dict(type=type_name, out_indices=out_indices, **kwargs))
            assert m.out_channels == (channels, )
            assert m(torch.randn(1, 3, 32, 32))[0].shape[1] == channels
