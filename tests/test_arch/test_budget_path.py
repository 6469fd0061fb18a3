"""Derivation under a budget: the most probable path within a tolerance of a MAdds target."""
import itertools
import math
import random

import pytest

from mmadapt.arch import most_probable_path_within


def _problem(seed, layers=6, choices=4):
    rng = random.Random(seed)
    scores, madds = [], []
    for _ in range(layers):
        logits = [rng.gauss(0, 2) for _ in range(choices)]
        z = math.log(sum(math.exp(v) for v in logits))
        scores.append([v - z for v in logits])
        madds.append([rng.randrange(0, 1000) for _ in range(choices)])
    return scores, madds, 500


def _brute(scores, madds, fixed, target, tol):
    best = None
    for path in itertools.product(*[range(len(s)) for s in scores]):
        total = fixed + sum(m[c] for m, c in zip(madds, path))
        if abs(total - target) <= tol * target:
            sc = sum(s[c] for s, c in zip(scores, path))
            if best is None or sc > best[0]:
                best = (sc, list(path))
    return best


@pytest.mark.parametrize('seed', range(20))
def test_budget_path_is_the_most_probable_path_of_the_window(seed):
    scores, madds, fixed = _problem(seed)
    lo = fixed + sum(min(m) for m in madds)
    hi = fixed + sum(max(m) for m in madds)
    target = lo + (hi - lo) * random.Random(seed + 100).uniform(0.2, 0.8)
    tol = 0.02
    path, total = most_probable_path_within(scores, madds, fixed, target, tol)
    assert total == fixed + sum(m[c] for m, c in zip(madds, path))
    best = _brute(scores, madds, fixed, target, tol)
    if best is None:  # nothing meets the window: the result is at least as close as the argmax
        return
    assert abs(total - target) <= tol * target
    score = sum(s[c] for s, c in zip(scores, path))
    # the most probable path of the window, as exhaustive search finds it
    assert score == pytest.approx(best[0], abs=1e-9), (score, best[0])


def test_a_budget_that_the_argmax_meets_changes_nothing():
    scores, madds, fixed = _problem(3)
    argmax = [max(range(len(s)), key=lambda c: s[c]) for s in scores]
    total = fixed + sum(m[c] for m, c in zip(madds, argmax))
    assert most_probable_path_within(scores, madds, fixed, total * 1.01, 0.02) == (argmax, total)


def test_far_targets_give_the_cheapest_and_the_dearest_paths():
    scores, madds, fixed = _problem(5)
    lo = fixed + sum(min(m) for m in madds)
    hi = fixed + sum(max(m) for m in madds)
    assert most_probable_path_within(scores, madds, fixed, lo, 0.0)[1] == lo
    assert most_probable_path_within(scores, madds, fixed, hi, 0.0)[1] == hi
