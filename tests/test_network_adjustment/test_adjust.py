"""One step of Algorithm 1: equal-FLOPs drop rates, the k schedule, exactly which widths move and by
how much, rescaling back to the target, and an analytic oracle loop that keeps its MAdds every round."""
import pytest

from mmadapt.arch import load_spec
from mmadapt.arch.widths import get_widths, set_widths
from mmadapt.cost import classifier_cost
from mmadapt.cost.width_terms import width_cost
from mmadapt.methods.network_adjustment import (BudgetError, adjust_widths, drop_rates, k_schedule,
                                                rescale_widths)


def test_equal_flops_rates_drop_equal_expected_madds():
    spec = set_widths('resnet18', [40, 70, 60, 90, 128, 120, 300, 256, 200, 500, 512, 480])
    sens = width_cost(spec, (224, 224), 1000).sensitivities()
    rates, clipped = drop_rates(sens, 0.05)
    dropped = [p * s for p, s in zip(rates, sens)]
    assert not clipped
    assert max(dropped) == pytest.approx(min(dropped), rel=1e-12)
    assert dropped[0] == pytest.approx(0.05 * sum(sens) / len(sens))
    # and the expected drop is what deleting that fraction of channels removes from the counted MAdds
    f0 = classifier_cost(spec, 1000, (224, 224)).madds
    ws = get_widths(spec)
    for i in (0, 5, 11):
        down = list(ws)
        down[i] = ws[i] // 2
        removed = f0 - classifier_cost(set_widths(spec, down), 1000, (224, 224)).madds
        assert removed == pytest.approx(0.5 * sens[i] * (ws[i] - ws[i] // 2) / (0.5 * ws[i]))


def test_rates_are_clipped_with_a_warning_and_the_ablation_uses_one_rate():
    rates, clipped = drop_rates([1, 100, 100, 100], 0.2, max_rate=0.9)
    assert clipped == [0] and rates[0] == 0.9
    assert rates[1] == pytest.approx(0.2 * 75.25 / 100)
    assert drop_rates([1, 2, 3], 0.1, equal_flops=False) == ([0.1] * 3, [])
    with pytest.raises(ValueError, match='positive'):
        drop_rates([0, 1], 0.1)


def test_k_schedule_decays_never_overlaps_and_zero_changes_nothing():
    assert [k_schedule(6, 0.5, t, 18) for t in range(10)] == [6, 6, 5, 4, 4, 4, 3, 2, 2, 2]  # the public recipe
    assert k_schedule(6, 0, 3, 8) == 4  # at most L // 2
    assert k_schedule(2, 1, 5, 10) == 0
    ws = [10, 20, 30]
    assert adjust_widths(ws, ws, [0.3, 0.1, 0.2], 0, 0.1) == (ws, dict(top=[], bottom=[], steps={}))
    with pytest.raises(ValueError, match='must not overlap'):
        adjust_widths(ws, ws, [0.3, 0.1, 0.2], 2, 0.1)


def test_one_step_moves_exactly_the_documented_layers_by_the_documented_amounts():
    init = [16, 16, 32, 32, 64, 64, 64, 64]
    cur = [20, 12, 32, 30, 64, 70, 50, 64]
    fur = [0.5, 0.1, 0.9, 0.2, 0.3, 0.05, 0.7, 0.4]
    new, info = adjust_widths(cur, init, fur, k=3, rate=0.15, rate_decay=0.01, min_width=4)
    assert info['top'] == [2, 6, 0]  # largest FUR first
    assert info['bottom'] == [5, 1, 3]  # smallest first
    # top: c + a_j * c_init with a = 0.15, 0.14, 0.13; bottom: c - a_j * c_init, at least 4
    assert new[2] == round(32 + 0.15 * 32) == 37
    assert new[6] == round(50 + 0.14 * 64) == 59
    assert new[0] == round(20 + 0.13 * 16) == 22
    assert new[5] == round(70 - 0.15 * 64) == 60
    assert new[1] == round(12 - 0.14 * 16) == 10
    assert new[3] == round(30 - 0.13 * 32) == 26
    assert [new[i] for i in (4, 7)] == [64, 64]  # the others do not move
    assert info['steps'] == {2: 5, 6: 9, 0: 2, 5: -10, 1: -2, 3: -4}
    tiny, _ = adjust_widths([5, 40], [16, 40], [0.0, 1.0], k=1, rate=0.5, min_width=4)
    assert tiny == [4, 60]
    tied, info = adjust_widths([8, 8, 8, 8], [8] * 4, [0.2, 0.2, 0.1, 0.3], k=1, rate=0.5)
    assert info == dict(top=[3], bottom=[2], steps={3: 4, 2: -4})
    tied, info = adjust_widths([8, 8, 8, 8], [8] * 4, [0.2, 0.2, 0.2, 0.2], k=2, rate=0.5)
    assert info['top'] == [3, 2] and info['bottom'] == [0, 1]  # a tie ranks the earlier layer lower
    assert tied == [4, 4, 12, 12]


def test_adjust_then_rescale_lands_within_tolerance_of_the_target():
    spec = load_spec('resnet18')
    size, classes = (224, 224), 1000
    target = classifier_cost(spec, classes, size).madds
    init = get_widths(spec)
    fur = [0.9, 0.1, 0.5, 0.8, 0.2, 0.4, 0.7, 0.3, 0.6, 0.95, 0.05, 0.45]
    moved, info = adjust_widths(init, init, fur, k=3, rate=0.1)
    assert classifier_cost(set_widths(spec, moved), classes, size).madds != target

    def cost(ws):
        return classifier_cost(set_widths(spec, ws), classes, size).madds

    fitted, err, rinfo = rescale_widths(moved, cost, target, tolerance=0.01, min_width=4)
    assert abs(err) <= 0.01 / 4  # the +-1 corrections stop within a quarter of the tolerance
    assert err == (cost(fitted) - target) / target
    # the rescaled widths keep the adjustment's shape: the grown layers stay above the shrunk ones' ratio
    for i in info['top']:
        assert fitted[i] / init[i] > max(fitted[j] / init[j] for j in info['bottom'])


def test_an_unreachable_target_is_an_error_that_gives_the_numbers():
    spec = load_spec('resnet18')

    def cost(ws):
        return classifier_cost(set_widths(spec, ws), 1000, (224, 224)).madds

    with pytest.raises(BudgetError, match=r'below the cost with every width at the minimum 4'):
        rescale_widths(get_widths(spec), cost, 1e6, tolerance=0.01, min_width=4)


def test_an_analytic_oracle_loop_keeps_its_madds_and_lowers_the_oracle_loss():
    """FUR replaced by an analytic loss sum(a_l / c_l): the loop must improve it at equal MAdds."""
    spec = load_spec('mobilenet_v2')
    size, classes = (224, 224), 1000
    init = get_widths(spec)
    target = classifier_cost(spec, classes, size).madds
    n = len(init)
    weights = [1000.0 * (3 if i % 4 == 0 else 1) for i in range(n)]

    def loss(ws):
        return sum(a / c for a, c in zip(weights, ws))

    def cost(ws):
        return classifier_cost(set_widths(spec, ws), classes, size).madds

    ws, losses = list(init), [loss(init)]
    for t in range(6):
        cur = set_widths(spec, ws)
        sens = width_cost(cur, size, classes).sensitivities()
        rates, _ = drop_rates(sens, 0.05)
        fur = [a * p / c for a, p, c in zip(weights, rates, ws)]  # loss rise of dropping p_l of layer l
        moved, _ = adjust_widths(ws, init, fur, k=k_schedule(6, 1, t, n), rate=0.1)
        ws, err, _ = rescale_widths(moved, cost, target, tolerance=0.01)
        assert abs(err) <= 0.01
        losses.append(loss(ws))
    assert min(losses[1:]) < losses[0] * 0.97
