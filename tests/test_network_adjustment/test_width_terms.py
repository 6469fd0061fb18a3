"""Width variables and the MAdds polynomial: exact agreement with the counter, sensitivities equal to
finite differences of the counted MAdds, and the owner rule of zero-padded running widths."""
import random

import pytest

from mmadapt.arch import SpecError, load_spec
from mmadapt.arch.widths import get_widths, set_widths, width_vars
from mmadapt.cost import classifier_cost, spec_cost
from mmadapt.cost.width_terms import width_cost


def counted(spec, size, num_classes=None, out_indices=None):
    if num_classes is not None:
        return classifier_cost(spec, num_classes, size).madds
    return spec_cost(spec, size, out_indices).madds


def random_widths(spec, rng, low=0.5, high=1.6):
    """Widths scaled at random per variable, kept apart by at least 2 so no zero-padded tie occurs."""
    ws = []
    for w in get_widths(spec):
        ws.append(max(4, int(w * rng.uniform(low, high))))
    # break ties between neighbouring widths (the running-width owner rule has a kink at a tie)
    return [w + 3 * i % 2 for i, w in enumerate(ws)]


CASES = [('mobilenet_v2', (224, 224), 1000, None), ('resnet18', (224, 224), 1000, None),
         ('mobilenet_v1', (160, 160), 10, None), ('mobilenet_v2', (320, 320), None, (2, 4, 6))]


@pytest.mark.parametrize('name,size,classes,out_indices', CASES)
def test_polynomial_equals_the_counter_at_random_widths(name, size, classes, out_indices):
    rng = random.Random(0)
    base = load_spec(name)
    for _ in range(3):
        n = None if out_indices is None else max(out_indices) + 1
        spec = set_widths(base, random_widths(base, rng)[:len(get_widths(base, n))], n) if n else \
            set_widths(base, random_widths(base, rng))
        wc = width_cost(spec, size, classes, out_indices)
        assert wc.madds() == counted(spec, size, classes, out_indices)


@pytest.mark.parametrize('name,size,classes,out_indices', CASES)
def test_sensitivity_is_the_finite_difference_of_the_counted_madds(name, size, classes, out_indices):
    rng = random.Random(1)
    base = load_spec(name)
    n = None if out_indices is None else max(out_indices) + 1
    ws = random_widths(base, rng)[:len(get_widths(base, n))]
    spec = set_widths(base, ws, n)
    wc = width_cost(spec, size, classes, out_indices)
    f0 = counted(spec, size, classes, out_indices)
    grad, sens = wc.gradient(), wc.sensitivities()
    for i, w in enumerate(ws):
        up = list(ws)
        up[i] += 1
        diff = counted(set_widths(spec, up, n), size, classes, out_indices) - f0
        assert diff == grad[i], (wc.vars[i].name, diff, grad[i])
        assert sens[i] == w * diff
        # and p * S_l is exactly the MAdds removed by deleting a fraction p of the channels (F is linear in c_l)
        if w >= 8:
            down = list(ws)
            down[i] = w // 2
            removed = f0 - counted(set_widths(spec, down, n), size, classes, out_indices)
            assert removed == pytest.approx((w - w // 2) / w * sens[i], rel=1e-9)


def test_width_variables_by_family():
    names = [v.name for v in width_vars('resnet18')]
    # projection-shortcut ResNet: the first conv of each block, and one width per stage
    assert names == ['s0.b0.h', 's0.b1.h', 's0.out', 's1.b0.h', 's1.b1.h', 's1.out', 's2.b0.h', 's2.b1.h', 's2.out',
                     's3.b0.h', 's3.b1.h', 's3.out']
    mb = width_vars('mobilenet_v2')
    assert mb[0].name == 's0.out'  # k3e1 has no expansion conv: no free hidden width
    assert [v.value for v in mb[1:4]] == [96, 144, 24]
    assert [v.kind for v in width_vars('mobilenet_v1')] == ['conv'] * 13


def test_set_widths_round_trips_and_checks():
    spec = load_spec('resnet18')
    ws = get_widths(spec)
    new = set_widths(spec, [w + 1 for w in ws])
    assert get_widths(new) == [w + 1 for w in ws]
    assert get_widths(set_widths(spec, {'s1.out': 100})) == [100 if i == 5 else w for i, w in enumerate(ws)]
    with pytest.raises(SpecError, match='12 width variables, got 2'):
        set_widths(spec, [1, 2])
    with pytest.raises(SpecError, match=r"unknown width variable\(s\) \['s9.out'\]"):
        set_widths(spec, {'s9.out': 3})
    with pytest.raises(SpecError, match='at least 1'):
        set_widths(spec, {'s0.out': 0})


def test_unsupported_specs_are_refused_with_the_reason():
    with pytest.raises(SpecError, match='mbv3'):
        width_vars('mobilenet_v3_large')
    with pytest.raises(SpecError, match='bottleneck'):
        width_vars('resnet50')
    with pytest.raises(SpecError, match='searchable layers'):
        width_vars('fna_mbv2_det')


@pytest.mark.parametrize('name,size,classes', [('resnet20_cifar', (32, 32), 100), ('resnet18_padded', (224, 224), 1000),
                                               ('resnet56_cifar', (32, 32), 100)])
def test_zero_padded_resnets_polynomial_and_finite_differences(name, size, classes):
    rng = random.Random(2)
    base = load_spec(name)
    names = [v.name for v in width_vars(base)]
    assert len(names) == 2 * sum(len(s.layers) for s in base.stages)  # conv1 and conv2 of every block
    for _ in range(2):
        ws = [max(4, int(w * rng.uniform(0.5, 1.6))) for w in get_widths(base)]
        spec = set_widths(base, ws)
        wc = width_cost(spec, size, classes)
        f0 = counted(spec, size, classes)
        assert wc.madds() == f0
        grad = wc.gradient()
        for i in rng.sample(range(len(ws)), 8):
            up = list(ws)
            up[i] += 1
            f1 = counted(set_widths(spec, up), size, classes)
            # away from a tie of running widths the derivative is the finite difference
            var = wc.vars[i]
            running_tie = var.kind == 'conv' and any(abs(up[i] - w) <= 1 for w in ws if w != ws[i])
            if not running_tie:
                assert f1 - f0 == grad[i], (var.name, f1 - f0, grad[i])


def test_the_owner_of_a_zero_padded_running_width_is_explicit():
    spec = load_spec('resnet20_cifar')
    first = width_cost(spec, (32, 32), 100, tie='first')
    last = width_cost(spec, (32, 32), 100, tie='last')
    names = [v.name for v in first.vars]
    fc = 100  # the FC term reads the final running width

    def owner_of_fc(wc):
        return [names[a] for k, a, b in wc.terms if b is None and k == fc]

    # 'first': a conv takes the running width over only when strictly wider; the stem keeps stage 0's 16
    assert owner_of_fc(first) == ['s2.b0.c']
    assert first.consumers(names.index('s0.b0.c')) == [t for t in first.terms if names.index('s0.b0.c') in t[1:]]
    assert len(first.consumers(names.index('s0.b0.c'))) == 1  # its own conv only: no consumer
    # 'last': a tie hands it to the later conv
    assert owner_of_fc(last) == ['s2.b2.c']
    assert len(last.consumers(names.index('s0.b2.c'))) == 2  # own conv and the next block's first conv
    assert first.madds() == last.madds() == 40_556_800
