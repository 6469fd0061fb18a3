"""Width variables and the MAdds polynomial with the stem and head widths as variables (``ends``), bottleneck
ResNets (``bottleneck``, a square term per block) and the per-block tagging of the terms."""
import random
from math import prod

import pytest

from mmadapt.arch import SpecError, load_spec
from mmadapt.arch.widths import get_widths, set_widths, stem_tied, width_vars
from mmadapt.cost import classifier_cost, spec_cost
from mmadapt.cost.width_terms import width_cost

SIZE = (224, 224)
CASES = [('mobilenet_v2', False), ('resnet18', False), ('resnet50', True), ('mobilenet_v1', False)]


def random_values(wc, rng):
    return [max(1, int(round(v.value * rng.uniform(0.5, 1.5)))) for v in wc.vars]


def term_value(term, values):
    k, a, b = term
    return k * prod(values[i] for i in (a, b) if i is not None)


@pytest.mark.parametrize('name,bottleneck', CASES)
def test_polynomial_with_ends_equals_the_classifier_cost(name, bottleneck):
    spec = load_spec(name)
    wc = width_cost(spec, SIZE, num_classes=1000, ends=True, bottleneck=bottleneck)
    assert wc.madds() == classifier_cost(spec, 1000, SIZE).madds
    # the defaults are unchanged: same MAdds, the stem and head widths fixed
    if not bottleneck:
        plain = width_cost(spec, SIZE, num_classes=1000)
        assert plain.madds() == wc.madds()
        assert [v.name for v in plain.vars] == [v.name for v in wc.vars if v.kind not in ('stem', 'head')]


@pytest.mark.parametrize('name,bottleneck', CASES)
def test_polynomial_of_the_original_spec_holds_at_other_widths(name, bottleneck):
    rng = random.Random(0)
    spec = load_spec(name)
    wc = width_cost(spec, SIZE, num_classes=1000, ends=True, bottleneck=bottleneck)
    for _ in range(4):
        values = random_values(wc, rng)
        new = set_widths(spec, values, ends=True, bottleneck=bottleneck)
        assert get_widths(new, ends=True, bottleneck=bottleneck) == values
        if stem_tied(spec):  # the identity shortcut of the first block stays: no projection appears
            assert spec_cost(new, SIZE).layers[0].info.has_shortcut()
        assert wc.madds(values) == classifier_cost(new, 1000, SIZE).madds
        # and the polynomial rebuilt at the new widths agrees
        assert width_cost(new, SIZE, 1000, ends=True, bottleneck=bottleneck).madds() == wc.madds(values)


def test_gradient_of_the_square_term_is_the_finite_difference():
    spec = load_spec('resnet50')
    wc = width_cost(spec, SIZE, 1000, ends=True, bottleneck=True)
    assert any(a == b for _, a, b in wc.terms)  # conv2 of every bottleneck: h x h
    vals = wc.values()
    grad = wc.gradient()
    f0 = classifier_cost(spec, 1000, SIZE).madds
    for i in (0, 1, 3, len(vals) - 1):
        up = list(vals)
        up[i] += 1
        f1 = classifier_cost(set_widths(spec, up, ends=True, bottleneck=True), 1000, SIZE).madds
        # F is quadratic in a hidden width: the forward difference is dF/dc + the square's coefficient
        square = sum(k for k, a, b in wc.terms if a == b == i)
        assert f1 - f0 == grad[i] + square, wc.vars[i].name


def test_tied_and_free_stems():
    r18 = load_spec('resnet18')
    assert stem_tied(r18)
    names = [v.name for v in width_vars(r18, ends=True)]
    assert 'stem' not in names and 'head' not in names  # tied to s0.out; ResNets have no head conv
    assert names == [v.name for v in width_vars(r18)]
    moved = set_widths(r18, {'s0.out': 80}, ends=True)
    assert moved.stem['out_channels'] == 80 and moved.stages[0].out_channels == 80
    assert spec_cost(moved, SIZE).layers[0].info.has_shortcut()
    # without ends the stem stays fixed (Network Adjustment's behaviour)
    assert set_widths(r18, {'s0.out': 80}).stem['out_channels'] == 64
    wc = width_cost(r18, SIZE, 1000, ends=True)
    s0 = [v.name for v in wc.vars].index('s0.out')
    assert wc.terms[0] == (spec_cost(r18, SIZE).stem_madds // 64, s0, None)
    assert wc.term_layers[0] is None

    mb = width_vars('mobilenet_v2', ends=True)
    assert (mb[0].name, mb[0].kind, mb[0].stage, mb[0].layer, mb[0].value) == ('stem', 'stem', None, None, 32)
    assert (mb[-1].name, mb[-1].kind, mb[-1].value) == ('head', 'head', 1280)
    assert mb[1].name == 's0.out'  # k3e1: its depthwise conv runs at the stem width
    new = set_widths('mobilenet_v2', {'stem': 40, 'head': 1000}, ends=True)
    assert new.stem['out_channels'] == 40 and new.head['out_channels'] == 1000
    wc = width_cost('mobilenet_v2', SIZE, 1000, ends=True)
    head = len(wc.vars) - 1
    assert (1000, head, None) in wc.terms  # the classifier reads the head width

    r50 = load_spec('resnet50')
    assert not stem_tied(r50)  # layer1's first block has a projection (64 != 256): the stem is free
    assert width_vars(r50, ends=True, bottleneck=True)[0].name == 'stem'
    assert width_vars('mobilenet_v1', ends=True)[0].name == 'stem'


@pytest.mark.parametrize('name,bottleneck', CASES)
def test_terms_are_tagged_with_their_layer(name, bottleneck):
    rng = random.Random(1)
    spec = load_spec(name)
    wc = width_cost(spec, SIZE, 1000, ends=True, bottleneck=bottleneck)
    assert len(wc.term_layers) == len(wc.terms)
    layers = spec_cost(spec, SIZE).layers
    assert sorted(wc.layer_const) == sorted((lc.info.stage, lc.info.layer) for lc in layers)
    values = random_values(wc, rng)
    new_layers = spec_cost(set_widths(spec, values, ends=True, bottleneck=bottleneck), SIZE).layers
    for at, vals, lcs in ((None, wc.values(), layers), (values, values, new_layers)):
        for lc in lcs:
            key = (lc.info.stage, lc.info.layer)
            block = sum(term_value(t, vals) for t, tag in zip(wc.terms, wc.term_layers) if tag == key)
            assert block + wc.layer_const[key] == lc.madds[0], key
        outside = sum(term_value(t, vals) for t, tag in zip(wc.terms, wc.term_layers) if tag is None)
        assert wc.const - sum(wc.layer_const.values()) + outside + sum(lc.madds[0] for lc in lcs) == wc.madds(at)


def test_layer_constants_of_fixed_blocks():
    # without ends the stem is constant: the first block's conv on it is a constant or linear term
    spec = load_spec('mobilenet_v1')
    wc = width_cost(spec, SIZE, 1000)
    assert wc.madds() == classifier_cost(spec, 1000, SIZE).madds
    first = spec_cost(spec, SIZE).layers[0]
    # the depthwise conv of the first block runs at the (constant) stem width: all its MAdds are constant
    assert wc.layer_const[(0, 0)] == 32 * 9 * 112 * 112
    assert sum(term_value(t, wc.values()) for t, tag in zip(wc.terms, wc.term_layers)
               if tag == (0, 0)) + wc.layer_const[(0, 0)] == first.madds[0]
    assert sum(wc.layer_const.values()) + spec_cost(spec, SIZE).stem_madds == wc.const


def test_backbone_without_the_head_has_no_head_variable():
    spec = load_spec('mobilenet_v2')
    out_indices = (2, 4, 6)
    wc = width_cost(spec, (320, 320), None, out_indices, ends=True)
    names = [v.name for v in wc.vars]
    assert names[0] == 'stem' and 'head' not in names
    assert names == [v.name for v in width_vars(spec, 7, ends=True)]
    assert wc.madds() == spec_cost(spec, (320, 320), out_indices).madds
    rng = random.Random(2)
    values = random_values(wc, rng)
    new = set_widths(spec, values, 7, ends=True)
    assert new.head['out_channels'] == 1280
    assert wc.madds(values) == spec_cost(new, (320, 320), out_indices).madds
    # the head is built when its index (the number of stages) is requested
    with_head = width_cost(spec, (320, 320), None, (2, 4, 7), ends=True)
    assert [v.name for v in with_head.vars][-1] == 'head'
    assert with_head.madds() == spec_cost(spec, (320, 320), (2, 4, 7)).madds
    assert [v.name for v in with_head.vars] == [v.name for v in width_vars(spec, 7, ends=True, with_head=True)]


def test_zero_padded_bottleneck_resnet():
    d = load_spec('resnet50').to_dict()
    d.update(name='resnet50_pad_proj', shortcut='pad_proj')
    spec = load_spec(d)
    rng = random.Random(3)
    wc = width_cost(spec, SIZE, 1000, ends=True, bottleneck=True)
    assert wc.madds() == classifier_cost(spec, 1000, SIZE).madds
    for _ in range(2):
        new = set_widths(spec, random_values(wc, rng), ends=True, bottleneck=True)
        assert width_cost(new, SIZE, 1000, ends=True, bottleneck=True).madds() == classifier_cost(new, 1000, SIZE).madds


def test_bottlenecks_are_refused_by_default():
    with pytest.raises(SpecError, match="defined for basic-block ResNets; a bottleneck's hidden width"):
        width_vars('resnet50')
    with pytest.raises(SpecError, match='bottleneck'):
        width_cost('resnet50', SIZE, 1000, ends=True)
    names = [v.name for v in width_vars('resnet50', bottleneck=True)]
    assert names[:4] == ['s0.b0.h', 's0.b1.h', 's0.b2.h', 's0.out']
    assert get_widths('resnet50', bottleneck=True)[:4] == [64, 64, 64, 256]
