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
