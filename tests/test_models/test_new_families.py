"""DerivedMobileNetV1 / DerivedMobileNetV3: exact seeds from timm and torchvision, outputs, activations."""
import pytest
import torch
import torch.nn as nn

from mmadapt.arch import load_spec
from mmadapt.models import DerivedMobileNetV1, DerivedMobileNetV3
from mmadapt.models.backbones import DepthwiseSeparable, MBConv, SqueezeExcitation, derived_backbone_class
from mmadapt.remap import SeedFormatError, convert_seed, load_seed, seed_template

from ..test_remap.test_network import randomise_bn


def library_model(lib, name):
    torch.manual_seed(0)
    if lib == 'timm':
        timm = pytest.importorskip('timm')
        return randomise_bn(timm.create_model(name, pretrained=False))
    import torchvision
    return randomise_bn(getattr(torchvision.models, name)())


def library_features(lib, model, x):
    return model.forward_features(x) if lib == 'timm' else model.features(x)


# library, model name, our spec, library parameters that are not part of the backbone
SEEDS = [
    ('timm', 'mobilenetv1_100', 'mobilenet_v1', ('classifier', )),
    ('timm', 'mobilenetv3_large_100', 'mobilenet_v3_large', ('classifier', 'conv_head')),
    ('timm', 'mobilenetv3_small_100', 'mobilenet_v3_small', ('classifier', 'conv_head')),
    ('timm', 'efficientnet_b0', 'efficientnet_b0', ('classifier', )),
    ('torchvision', 'mobilenet_v3_large', 'mobilenet_v3_large', ('classifier', )),
    ('torchvision', 'mobilenet_v3_small', 'mobilenet_v3_small', ('classifier', )),
]


@pytest.mark.parametrize('lib,name,spec,drop', SEEDS)
def test_seed_adapters_are_exact(lib, name, spec, drop):
    """The library's weights, renamed, make our backbone compute the library's features exactly."""
    theirs = library_model(lib, name)
    state, report = load_seed(theirs.state_dict(), spec)
    assert report.format == lib and report.missing == []
    assert all(k.startswith(drop) for k in report.unused), report.unused
    # torchvision's MobileNetV3 normalises with eps 1e-3
    norm_cfg = dict(type='BN', eps=1e-3) if lib == 'torchvision' else None
    family_spec = load_spec(spec)
    last = len(family_spec.stages) - (0 if family_spec.head is not None else 1)
    ours = derived_backbone_class(family_spec.family)(spec=spec, out_indices=(last, ), norm_cfg=norm_cfg)
    ours.load_state_dict(state, strict=True)
    # the same parameters, shape for shape (the classifier aside)
    lib_shapes = sorted(tuple(p.shape) for n, p in theirs.named_parameters() if not n.startswith(drop))
    assert sorted(tuple(p.shape) for p in ours.parameters()) == lib_shapes
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    ours, theirs = ours.eval().double(), theirs.double()
    with torch.no_grad():
        expected = library_features(lib, theirs, x)
        torch.testing.assert_close(ours(x)[0], expected, rtol=1e-5, atol=1e-5)
        if lib == 'torchvision':  # the BN eps matters: the check can tell a wrong function
            other = DerivedMobileNetV3(spec=spec, out_indices=(last, )).double().eval()
            other.load_state_dict(state)
            assert (other(x)[0] - expected).abs().max() > 1e-4


def test_seed_template_and_unsupported_formats():
    assert 'stages.2.0.se.conv_reduce.bias' in seed_template('mobilenet_v3_large')
    assert 'stages.0.0.pointwise_conv.bn.weight' in seed_template('mobilenet_v1')
    state = seed_template('mobilenet_v1')
    with pytest.raises(SeedFormatError, match=r"seed format 'mmpretrain' has no names for mbv1 specs; "
                                              r"allowed: \['mmadapt', 'timm'\]"):
        convert_seed(state, 'mobilenet_v1', state, fmt='mmpretrain')
    # mmadapt's own checkpoints load as themselves
    ours, report = convert_seed({f'backbone.{k}': v for k, v in state.items()}, 'mobilenet_v1', state)
    assert report.format == 'mmadapt' and set(ours) == set(state)


def test_outputs_channels_strides_and_truncation():
    x = torch.randn(2, 3, 64, 96)
    v1 = DerivedMobileNetV1(out_indices=(0, 1, 2, 3, 4))
    assert v1.out_channels == (64, 128, 256, 512, 1024) and v1.out_strides == (2, 4, 8, 16, 32)
    assert [tuple(o.shape) for o in v1(x)] == [(2, c, 64 // s, 96 // s) for c, s in zip(v1.out_channels,
                                                                                         v1.out_strides)]
    assert isinstance(v1.stages[3][5], DepthwiseSeparable)
    v3 = DerivedMobileNetV3(out_indices=(2, 4, 6))
    assert v3.out_channels == (40, 112, 960) and v3.out_strides == (8, 16, 32)
    assert v3.feature_info[2] == dict(index=6, channels=960, stride=32)
    assert [o.shape[1:] for o in v3(x)] == [(40, 8, 12), (112, 4, 6), (960, 2, 3)]
    b0 = DerivedMobileNetV3(spec='efficientnet_b0', out_indices=(1, 3))
    assert len(b0.stages) == 4 and b0.head is None  # stages after the last output are not built
    loss = sum(o.sum() for o in b0(torch.randn(1, 3, 32, 32)))
    loss.backward()
    assert all(p.grad is not None for p in b0.parameters()), 'every built parameter is used'
    with pytest.raises(ValueError, match=r'out_indices \(5,\).*0..4'):
        DerivedMobileNetV1(out_indices=(5, ))
    with pytest.raises(ValueError, match=r'out_indices \(7,\).*0..6 \(6 is the head conv\)'):
        DerivedMobileNetV3(out_indices=(7, ))
    with pytest.raises(ValueError, match="DerivedMobileNetV3 builds mbv3 specs; spec 'mobilenet_v1' is a mbv1"):
        DerivedMobileNetV3(spec='mobilenet_v1')
    d = load_spec('mobilenet_v3_small').to_dict()
    d['stages'][1]['blocks'][1] = 'k3e3|k5e3_se'
    with pytest.raises(ValueError, match='has searchable layers; no super-backbone builds mbv3 specs yet'):
        DerivedMobileNetV3(spec=d)


def _acts(module):
    return {type(m) for m in module.modules() if isinstance(m, (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU))}


def test_stage_activations_are_honoured():
    b = DerivedMobileNetV3(out_indices=(6, ))
    assert _acts(b.stem) == {nn.Hardswish} and _acts(b.head) == {nn.Hardswish}
    for s in range(3):
        assert _acts(b.stages[s]) == {nn.ReLU}
    for s in range(3, 6):  # hswish blocks; the SE inside keeps its own ReLU
        blocks = b.stages[s]
        assert all(_acts(blk.depthwise_conv) == {nn.Hardswish} for blk in blocks)
        assert all(blk.se is None or (type(blk.se.act) is nn.ReLU and type(blk.se.gate) is nn.Hardsigmoid)
                   for blk in blocks)
    se = b.stages[2][0].se
    assert isinstance(se, SqueezeExcitation) and (se.conv_reduce.in_channels, se.conv_reduce.out_channels) == (72, 24)
    assert se.conv_reduce.bias is not None and se.conv_expand.bias is not None
    # act_cfg replaces the spec's activation (stem, head, stages without their own), never a stage's own
    r = DerivedMobileNetV3(out_indices=(6, ), act_cfg=dict(type='ReLU6'))
    assert _acts(r.stem) == {nn.ReLU6} and _acts(r.stages[0]) == {nn.ReLU}
    assert _acts(r.stages[3]) == {nn.ReLU6}
    b0 = DerivedMobileNetV3(spec='efficientnet_b0', out_indices=(0, ))
    blk = b0.stages[0][0]
    assert isinstance(blk, MBConv) and blk.expand_conv is None and type(blk.se.gate) is nn.Sigmoid
    assert _acts(b0) == {nn.SiLU}


def test_frozen_stages_norm_eval_and_registry():
    b = DerivedMobileNetV3(frozen_stages=2, norm_eval=True, out_indices=(3, ))
    b.train()
    assert all(not p.requires_grad for m in [b.stem, b.stages[0], b.stages[1]] for p in m.parameters())
    assert all(p.requires_grad for p in b.stages[2].parameters())
    assert all(not m.training for m in b.modules() if isinstance(m, nn.BatchNorm2d))
    v1 = DerivedMobileNetV1(frozen_stages=0, out_indices=(0, ))
    v1.train()
    assert not any(p.requires_grad for p in v1.stem.parameters()) and v1.stem.bn.training is False
    assert v1.stages[0][0].depthwise_conv.bn.training is True
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmdet'):
        for type_name, kwargs, channels in [('mmadapt.DerivedMobileNetV1', {}, 128),
                                            ('mmadapt.DerivedMobileNetV3', dict(spec='mobilenet_v3_small'), 24)]:
            m = MODELS.build(dict(type=type_name, out_indices=(1, ), **kwargs))
            assert m(torch.randn(1, 3, 32, 32))[0].shape[1] == channels
