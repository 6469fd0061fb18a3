"""The resnet family's shortcut rule: 'conv' (torchvision), 'pad' (CIFAR, Network Adjustment) and
'pad_proj' (Network Adjustment's ImageNet ResNets): widths, shortcuts, seeds, files and errors."""
import json

import pytest

from mmadapt.arch import ElasticSpace, SpecError, dump_spec, load_spec, resolve_subnet, spec_from_dict

from .test_spec import _spec
from .test_spec_families import assert_spec_error

CIFAR = {'resnet20_cifar': 3, 'resnet32_cifar': 5, 'resnet56_cifar': 9, 'resnet110_cifar': 18}


def _widths(spec):
    """(in, conv path, out, has_shortcut) of every layer."""
    return [(i.in_channels, i.conv_out(i.candidates[0]), i.out_channels, i.has_shortcut()) for i in spec.layers()]


@pytest.mark.parametrize('name,n', sorted(CIFAR.items()))
def test_cifar_seeds(name, n):
    spec = load_spec(name)
    assert (spec.family, spec.block_type, spec.act, spec.shortcut) == ('resnet', 'basic', 'relu', 'pad')
    assert spec.stem == dict(out_channels=16, kernel=3, stride=1, pool=False)
    assert [(s.out_channels, s.stride, [c[0].token for c in s.layers]) for s in spec.stages] == \
        [(16, 1, ['k3g1'] * n), (32, 2, ['k3g1'] * n), (64, 2, ['k3g1'] * n)]
    assert spec.stage_out_channels() == [16, 32, 64] and spec.stage_strides() == [1, 2, 4]
    # every layer has a parameter-free shortcut, the stride-2 ones included
    assert all(i.has_shortcut() for i in spec.layers())
    assert spec.describe().startswith('shortcut pad | stem c16 s1 | c16 s1 d1: k3g1 k3g1 k3g1')


def test_resnet18_padded_seeds():
    conv, padded = load_spec('resnet18'), load_spec('resnet18_padded')
    assert conv.shortcut == 'conv' and padded.shortcut == 'pad_proj'
    # at the seed widths: torchvision's shortcuts (stage 0 keeps its identity, projections at stride 2)
    assert _widths(conv) == _widths(padded)
    assert [i.has_shortcut() for i in padded.layers()] == [True, True, False, True, False, True, False, True]
    x08 = load_spec('resnet18_x0.8_padded')
    assert x08.shortcut == 'pad_proj' and x08.stem['out_channels'] == 51
    assert x08.stage_out_channels() == [51, 102, 204, 408]
    assert padded.describe().startswith('shortcut pad_proj | stem c64 s2 | c64 s1 d1: k3g1 k3g1 | c128 s2')
    assert not conv.describe().startswith('shortcut')


def test_running_width_and_conv_paths():
    """'pad': the output is max(conv path, input) everywhere; 'pad_proj' restarts it at stride-2 stage starts."""
    d = _spec('resnet20_cifar')
    d['stages'][0]['blocks'] = ['k3g1_c24', 'k3g1_h8_c12', 'k3g1_h0']
    d['stages'][1]['blocks'] = ['k3g1_c20', 'k3g1_h16', 'skip']
    d['stages'][2]['blocks'] = ['k3g1_c48', 'k3g1_h40_c80']
    spec = spec_from_dict(d)
    assert _widths(spec) == [(16, 24, 24, True), (24, 12, 24, True), (24, 16, 24, True),
                             (24, 20, 24, True), (24, 32, 32, True), (32, 0, 32, True),
                             (32, 48, 48, True), (48, 80, 80, True)]
    infos = spec.layers()
    # the hidden width defaults to the conv path's, not to the (padded) output's
    assert [i.hidden(i.candidates[0], 'basic') for i in infos] == [24, 8, 0, 20, 16, 0, 48, 40]
    d['shortcut'] = 'pad_proj'
    proj = spec_from_dict(d)
    assert _widths(proj) == [(16, 24, 24, True), (24, 12, 24, True), (24, 16, 24, True),
                             (24, 20, 20, False), (20, 32, 32, True), (32, 0, 32, True),
                             (32, 48, 48, False), (48, 80, 80, True)]
    d['shortcut'] = 'conv'  # the original rule: the output is the conv path, shortcuts cut or pad
    assert [w[1:] for w in _widths(spec_from_dict(d))] == [
        (24, 24, False), (12, 12, True), (16, 16, True), (20, 20, False), (32, 32, True), (0, 32, True),
        (48, 48, False), (80, 80, True)]
    # bottleneck: hidden is a quarter of the conv path
    b = _spec('resnet50', shortcut='pad')
    b['stages'][1]['blocks'][1] = 'k3g1_c256'
    info = spec_from_dict(b).layers()[4]
    assert (info.conv_out(info.candidates[0]), info.out_channels, info.hidden(info.candidates[0], 'bottleneck')) \
        == (256, 512, 64)


def test_round_trip_and_default(tmp_path):
    for name in ('resnet20_cifar', 'resnet18_padded', 'resnet18_x0.8_padded'):
        spec = load_spec(name)
        for ext in ('json', 'yaml'):
            path = tmp_path / f'{name}.{ext}'
            dump_spec(spec, str(path))
            again = load_spec(str(path))
            assert again.shortcut == spec.shortcut and again.to_dict() == spec.to_dict()
        assert spec.copy().shortcut == spec.shortcut
        assert json.loads(dump_spec(spec, fmt='json'))['shortcut'] == spec.shortcut
        from mmadapt.arch.spec import BUILTIN_DIR
        with open(f'{BUILTIN_DIR}/{name}.yaml') as f:  # the shipped files are canonical
            assert dump_spec(spec) == f.read()
    # the default is left out, so existing files are unchanged
    d = _spec('resnet18', shortcut='conv')
    assert 'shortcut' not in spec_from_dict(d).to_dict() and 'shortcut' not in load_spec('resnet50').to_dict()
    assert 'shortcut: conv' not in dump_spec(load_spec('resnet18'))


def test_any_number_of_stages():
    d = _spec('resnet18')
    d['stages'] = d['stages'][:3]
    assert len(spec_from_dict(d).stages) == 3
    d['stages'] = d['stages'][:1]
    assert spec_from_dict(d).stage_out_channels() == [64]
    d['stages'] = []
    with pytest.raises(SpecError, match='a resnet spec needs at least 1 stage, got 0'):
        spec_from_dict(d)


@pytest.mark.parametrize('name,changes,expected', [
    ('resnet20_cifar', {'shortcut': 'foo'}, ["shortcut 'foo' not allowed", "['conv', 'pad', 'pad_proj']"]),
    ('resnet18', {'shortcut': 'identity'}, ["shortcut 'identity' not allowed", "['conv', 'pad', 'pad_proj']"]),
    ('mobilenet_v2', {'shortcut': 'pad'}, ["field 'shortcut' is only defined for ['resnet', 'mbv3'] specs, not mbv2"]),
    # mbv3 specs allow 'conv' and NetAdaptV2's 'pad' (tests/test_arch/test_netadaptv2_specs.py)
    ('mobilenet_v3_large', {'shortcut': 'pad_proj'}, ["shortcut 'pad_proj' not allowed for a mbv3 spec",
                                                      "['conv', 'pad']"]),
    # a bypassed body needs stride 1, also where the pooled shortcut exists
    ('resnet20_cifar', {'stages.1.blocks.0': 'k3g1_h0'}, ['stage 1 layer 0', 'hidden width 0', 'needs stride 1']),
    ('resnet18_padded', {'stages.2.blocks.0': 'k3g1_h0'}, ['stage 2 layer 0', 'hidden width 0', 'needs stride 1']),
])
def test_malformed_shortcuts_name_the_problem(name, changes, expected):
    assert_spec_error(name, changes, expected)


def test_bypassed_layers_under_pad():
    # stride 1: allowed, also as the first layer of a stage that changes width (the identity is padded)
    spec = spec_from_dict(_spec('resnet20_cifar', **{'stages.0.blocks.0': 'k3g1_h0_c24'}))
    assert _widths(spec)[0] == (16, 24, 24, True)


def test_elastic_networks_refuse_padded_shortcuts():
    for name in ('resnet20_cifar', 'resnet18_padded'):
        with pytest.raises(SpecError, match="has shortcut 'pad"):
            resolve_subnet(name, name)
        with pytest.raises(SpecError, match='shortcut'):
            ElasticSpace(name)
    with pytest.raises(SpecError, match="shortcut is 'pad_proj'"):
        resolve_subnet('resnet18', 'resnet18_padded')
