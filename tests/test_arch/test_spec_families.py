"""The mbv1 (MobileNetV1) and mbv3 (MobileNetV3, EfficientNet) spec families: seeds, grammar, errors."""
import json

import pytest

from mmadapt.arch import SpecError, builtin_specs, dump_spec, load_spec, spec_from_dict
from mmadapt.arch.spec import SE_DEFAULTS, make_divisible, se_width

from .test_spec import _spec

NEW_SEEDS = ('mobilenet_v1', 'mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0')


def _layers(name):
    spec = load_spec(name)
    return spec, spec.layers()


def test_new_seeds_are_builtin_and_round_trip(tmp_path):
    assert set(NEW_SEEDS) <= set(builtin_specs())
    for name in NEW_SEEDS:
        spec = load_spec(name)
        for ext in ('json', 'yaml'):
            path = tmp_path / f'{name}.{ext}'
            dump_spec(spec, str(path))
            assert load_spec(str(path)).to_dict() == spec.to_dict()
        assert spec_from_dict(json.loads(dump_spec(spec, fmt='json'))).describe() == spec.describe()
    # the shipped files are in canonical form: dumping a seed gives its file back
    from mmadapt.arch.spec import BUILTIN_DIR
    for name in NEW_SEEDS:
        with open(f'{BUILTIN_DIR}/{name}.yaml') as f:
            assert dump_spec(load_spec(name)) == f.read()


def test_mobilenet_v1_seed():
    spec, layers = _layers('mobilenet_v1')
    assert spec.family == 'mbv1' and spec.head is None and spec.act == 'relu6'
    assert [s.depth for s in spec.stages] == [1, 2, 2, 6, 2]
    assert spec.stage_out_channels() == [64, 128, 256, 512, 1024]
    assert spec.stage_strides() == [2, 4, 8, 16, 32]
    assert all(i.candidates[0].kind == 'separable' and not i.has_shortcut() for i in layers)
    # the depthwise conv runs on the block's input width
    assert [(i.in_channels, i.hidden(i.candidates[0]), i.out_channels) for i in layers[:3]] == \
        [(32, 32, 64), (64, 64, 128), (128, 128, 128)]


# (in, hidden, out, SE width, activation, shortcut) per layer, as timm / torchvision build them
V3_LARGE = [(16, 16, 16, 0, 'relu', True), (16, 64, 24, 0, 'relu', False), (24, 72, 24, 0, 'relu', True),
            (24, 72, 40, 24, 'relu', False), (40, 120, 40, 32, 'relu', True), (40, 120, 40, 32, 'relu', True),
            (40, 240, 80, 0, 'hswish', False), (80, 200, 80, 0, 'hswish', True), (80, 184, 80, 0, 'hswish', True),
            (80, 184, 80, 0, 'hswish', True), (80, 480, 112, 120, 'hswish', False),
            (112, 672, 112, 168, 'hswish', True), (112, 672, 160, 168, 'hswish', False),
            (160, 960, 160, 240, 'hswish', True), (160, 960, 160, 240, 'hswish', True)]
V3_SMALL = [(16, 16, 16, 8, 'relu', False), (16, 72, 24, 0, 'relu', False), (24, 88, 24, 0, 'relu', True),
            (24, 96, 40, 24, 'hswish', False), (40, 240, 40, 64, 'hswish', True), (40, 240, 40, 64, 'hswish', True),
            (40, 120, 48, 32, 'hswish', False), (48, 144, 48, 40, 'hswish', True), (48, 288, 96, 72, 'hswish', False),
            (96, 576, 96, 144, 'hswish', True), (96, 576, 96, 144, 'hswish', True)]
# EfficientNet-B0: SE width is a quarter of the block's input width
B0_HIDDEN = [32, 96, 144, 144, 240, 240, 480, 480, 480, 672, 672, 672, 1152, 1152, 1152, 1152]
B0_SE = [8, 4, 6, 6, 10, 10, 20, 20, 20, 28, 28, 28, 48, 48, 48, 48]


@pytest.mark.parametrize('name,expected,head', [('mobilenet_v3_large', V3_LARGE, 960),
                                                ('mobilenet_v3_small', V3_SMALL, 576)])
def test_mobilenet_v3_seeds_match_the_libraries(name, expected, head):
    spec, layers = _layers(name)
    got = [(i.in_channels, i.hidden(i.candidates[0]), i.out_channels, spec.se_channels(i, i.candidates[0]),
            i.act, i.has_shortcut()) for i in layers]
    assert got == expected
    assert spec.act == 'hswish' and spec.stem['out_channels'] == 16 and spec.head == {'out_channels': head}
    assert spec.se == SE_DEFAULTS
    assert spec.classifier == {'hidden': 1280 if name.endswith('large') else 1024}


def test_efficientnet_b0_seed():
    spec, layers = _layers('efficientnet_b0')
    assert [i.hidden(i.candidates[0]) for i in layers] == B0_HIDDEN
    assert [spec.se_channels(i, i.candidates[0]) for i in layers] == B0_SE
    assert {i.act for i in layers} == {'swish'} and spec.se['gate'] == 'sigmoid' and spec.se['act'] == 'swish'
    assert spec.stage_out_channels() == [16, 24, 40, 80, 112, 192, 320] and spec.head == {'out_channels': 1280}
    assert spec.classifier is None


def test_describe_and_tokens():
    spec = load_spec('mobilenet_v3_large')
    assert spec.describe().startswith('stem c16 s2 | c16 s1 d1 relu: k3e1 | c24 s2 d1 relu: k3e4 k3e3 | '
                                      'c40 s2 d1 relu: k5e3_se k5e3_se k5e3_se | c80 s2 d1: k3e6 k3e2.5 k3e2.3')
    assert spec.describe().endswith('| head c960')
    assert load_spec('mobilenet_v1').describe().startswith('stem c32 s2 | c64 s1 d1: k3 | c128 s2 d1: k3 k3 |')
    d = load_spec('mobilenet_v3_small').to_dict()
    d['stages'][2]['blocks'] = ['k5e4_se_h100_c44', 'k3e6', 'skip']
    d['stages'][2]['act'] = 'swish'
    d['se'] = dict(ratio=0.5, of='in', divisor=4, act='relu6', gate='sigmoid')
    spec = spec_from_dict(d)
    assert [b.token for c in spec.stages[2].layers for b in c] == ['k5e4_se_h100_c44', 'k3e6', 'skip']
    first = spec.layers()[3]
    assert (first.in_channels, first.hidden(first.candidates[0]), first.out_channels) == (24, 100, 44)
    assert first.candidates[0].se and spec.se_channels(first, first.candidates[0]) == 12  # 24 * 0.5
    assert first.act == 'swish'
    again = spec_from_dict(json.loads(dump_spec(spec, fmt='json')))
    assert again.to_dict() == spec.to_dict() and again.stages[2].act == 'swish'
    # a mbv3 spec without 'se' gets MobileNetV3's rule, written out
    d.pop('se')
    assert spec_from_dict(d).to_dict()['se'] == SE_DEFAULTS
    # any number of stages
    d['stages'] = d['stages'][:2]
    assert len(spec_from_dict(d).stages) == 2


def test_make_divisible_is_torchvisions():
    from torchvision.models._utils import _make_divisible
    for v in range(1, 400):
        for f in (v, v * 0.25, v * 1.7):
            assert make_divisible(f, 8) == _make_divisible(f, 8), f
    assert se_width(72, SE_DEFAULTS) == 24 and se_width(16, SE_DEFAULTS) == 8
    assert se_width(18, dict(ratio=0.25, divisor=1)) == 4 and se_width(2, dict(ratio=0.25, divisor=1)) == 1

@pytest.mark.parametrize('name,changes,expected', [
    ('mobilenet_v1', {'stages.3.blocks.2': 'k3e6'}, ['stage 3 layer 2', "unknown block token 'k3e6' for a mbv1 spec",
                                                      "'k{kernel}'"]),
    ('mobilenet_v1', {'stages.1.blocks.1': 'k4'}, ['stage 1 layer 1', "'k4'", 'kernel must be odd']),
    ('mobilenet_v1', {'stages.1.blocks.1': 'k3_h64'}, ['stage 1 layer 1', "unknown block token 'k3_h64'"]),
    ('mobilenet_v1', {'stages.1.blocks.0': 'skip'}, ['stage 1 layer 0', "'skip' is not allowed in the first"]),
    ('mobilenet_v1', {'stages.4': KeyError}, ['a mbv1 spec needs 5 stages, got 4', 'missing stage 4']),
    ('mobilenet_v1', {'head': {'out_channels': 1280}}, ["head conv is only defined for ['mbv2', 'mbv3'] specs"]),
    ('mobilenet_v1', {'stages.0.act': 'relu'}, ['stage 0', "unknown field(s) ['act']"]),
    ('mobilenet_v1', {'se': {'ratio': 0.25}}, ["field 'se' is only defined for mbv3 specs, not mbv1"]),
    ('mobilenet_v1', {'act': 'hswish'}, ["activation 'hswish' not allowed; a mbv1 spec allows ['relu6', 'relu', 'swish']"]),
    ('mobilenet_v3_large', {'stages.2.blocks.1': 'k5e3_c40_se'},
     ['stage 2 layer 1', "unknown block token 'k5e3_c40_se'", "'_se', '_h{hidden}', '_c{out}' and '_b{bypass limit}' in this order"]),
    ('mobilenet_v3_large', {'stages.2.blocks.1': 'k5g3'}, ['stage 2 layer 1', "unknown block token 'k5g3'"]),
    ('mobilenet_v3_large', {'stages.2.blocks.1': 'k6e3_se'}, ['stage 2 layer 1', 'kernel must be odd']),
    ('mobilenet_v3_large', {'stages.2.act': 'gelu'},
     ['stage 2', "activation 'gelu' not allowed; a mbv3 spec allows ['hswish', 'relu', 'relu6', 'swish']"]),
    ('mobilenet_v3_large', {'stages.1.actt': 'relu'}, ['stage 1', "unknown field(s) ['actt']", "'act'"]),
    ('mobilenet_v3_large', {'stages': []}, ['a mbv3 spec needs at least 1 stage, got 0']),
    ('mobilenet_v3_large', {'se.gate': 'tanh'}, ["se: gate 'tanh' not allowed; allowed: ['hsigmoid', 'sigmoid']"]),
    ('mobilenet_v3_large', {'se.of': 'out'}, ["se: of 'out' not allowed; allowed: ['hidden', 'in']"]),
    ('mobilenet_v3_large', {'se.ratio': 0}, ['se: ratio must be a number in (0, 1], got 0']),
    ('mobilenet_v3_large', {'se.divisor': 0}, ['se: divisor must be an integer >= 1, got 0']),
    ('mobilenet_v3_large', {'se.act': 'gelu'}, ["se: activation 'gelu' not allowed"]),
    ('mobilenet_v3_large', {'se.reduce': 4}, ["se: unknown field(s) ['reduce']"]),
    ('mobilenet_v3_large', {'classifier': {'hidden': 0}}, ['classifier: hidden must be an integer >= 1, got 0']),
    ('mobilenet_v3_large', {'classifier': {'width': 1280}}, ["classifier: unknown field(s) ['width']"]),
    ('mobilenet_v3_large', {'stages.3.blocks.0': 'k3e6_h0'}, ['stage 3 layer 0', 'hidden width 0', 'no shortcut']),
    ('mobilenet_v2', {'stages.2.blocks.1': 'k3e6_se'},
     ['stage 2 layer 1', "unknown block token 'k3e6_se' for a mbv2 spec", "'_se' needs an mbv3 spec"]),
    ('mobilenet_v2', {'family': 'vgg'}, ["unknown family 'vgg'", "['mbv1', 'mbv3']"]),
])
def test_malformed_new_family_specs_name_the_problem(name, changes, expected):
    assert_spec_error(name, changes, expected)


def assert_spec_error(name, changes, expected):
    """The spec ``name`` with ``changes`` fails with a message naming the spec and every ``expected`` part."""
    with pytest.raises(SpecError) as info:
        spec_from_dict(_spec(name, **changes))
    message = str(info.value)
    assert f'spec {name!r}' in message
    for part in expected:
        assert part in message, message
