"""One step of Network Adjustment's Algorithm 1 on a width vector: drop rates, adjust, rescale.

Pure functions of numbers, so that every rank computes the same step and tests can check each rule.

* :func:`drop_rates`: ``p_l = b * mean(S) / S_l``, so that every layer drops the same expected
  MAdds ``p_l * S_l = b * mean(S)`` (the FUR of each layer is then comparable); clipped to
  ``max_rate`` with a warning (the public code does not clip and produces NaN at ``p = 1``).
  ``equal_flops=False`` gives every layer ``b`` (the paper's "without FUR" ablation).
* :func:`k_schedule`: ``k_t = max(round(K - t * k_decay), 0)``, at most ``L // 2`` so that the grown
  and the shrunk layers never overlap; ``k = 0`` changes nothing.
* :func:`adjust_widths` (Algorithm 1, lines 6-12): the ``k`` layers of largest FUR grow and the ``k``
  of smallest FUR shrink by ``a_j * c^(1)``, a fraction of their *initial* width; ``a_j = max(rate -
  rate_decay * j, 0)`` for the j-th most extreme layer (``rate_decay`` is the public code's, not the
  paper's; 0 by default); a shrunk width is at least ``min_width``. In a tie of FUR the earlier layer
  ranks lower (a stable sort), so the grown and the shrunk layers never overlap. Widths are rounded with Python's ``round`` (half to even), as the
  public code does.
* :func:`rescale_widths` (line 14): every width times one factor ``s`` (bisection on ``s``, rounded
  widths, at least ``min_width``), then single-channel corrections (+-1 on the width that brings the
  cost closest to the target) while they improve and the error exceeds a quarter of the tolerance;
  the error is relative to the target. A result
  outside ``tolerance`` raises :class:`BudgetError` (the public code returns it silently).
"""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log


from mmadapt.cost.rescale import BudgetError, rescale_widths  # noqa: F401  (re-exported: part of this module's API)


def drop_rates(sensitivities: Sequence[float], base: float, equal_flops: bool = True, max_rate: float = 0.9,
               names: Optional[Sequence[str]] = None) -> Tuple[List[float], List[int]]:
    """Per-layer drop rates for the FLOPs utilisation ratio; returns (rates, indices that were clipped)."""
    if not 0 < base < 1:
        raise ValueError(f'base drop rate must be in (0, 1), got {base}')
    if not 0 < max_rate < 1:
        raise ValueError(f'max drop rate must be in (0, 1), got {max_rate}')
    sens = [float(s) for s in sensitivities]
    if not equal_flops:
        return [min(base, max_rate)] * len(sens), []
    if any(s <= 0 for s in sens):
        bad = [i for i, s in enumerate(sens) if s <= 0]
        raise ValueError(f'FLOPs sensitivities must be positive, got {[sens[i] for i in bad]} at {bad}')
    mean = sum(sens) / len(sens)
    rates, clipped = [], []
    for i, s in enumerate(sens):
        p = base * mean / s
        if p > max_rate:
            clipped.append(i)
            p = max_rate
        rates.append(p)
    if clipped:
        which = [names[i] if names else i for i in clipped]
        print_log(f'channel dropout rates of {which} clipped to {max_rate} (their FLOPs sensitivity is below '
                  f'{base / max_rate:.3g} x the mean): they drop fewer MAdds than the others; lower the base rate '
                  f'({base}) to keep the drops equal', logger='current', level=logging.WARNING)
    return rates, clipped


def k_schedule(k: int, k_decay: float, round_index: int, num_vars: int) -> int:
    """Layers grown (and shrunk) after round ``round_index`` (0-based)."""
    value = max(int(round(k - round_index * k_decay)), 0)
    return min(value, num_vars // 2)


def adjust_widths(widths: Sequence[int], init_widths: Sequence[int], fur: Sequence[float], k: int, rate: float,
                  rate_decay: float = 0.0, min_width: int = 4) -> Tuple[List[int], Dict]:
    """Grow the ``k`` layers of largest FUR, shrink the ``k`` of smallest (see the module docstring).

    Returns the new widths and ``dict(top=[...], bottom=[...], steps={index: change})`` (indices in
    order of extremity).
    """
    n = len(widths)
    if not len(init_widths) == len(fur) == n:
        raise ValueError(f'widths, initial widths and FUR must have the same length, got {n}, '
                         f'{len(init_widths)}, {len(fur)}')
    if k < 0 or 2 * k > n:
        raise ValueError(f'k must be in 0..{n // 2} for {n} layers (grown and shrunk layers must not overlap), '
                         f'got {k}')
    new = [int(w) for w in widths]
    order = sorted(range(n), key=lambda i: (fur[i], i))  # ascending; a tie ranks the earlier layer lower
    bottom = order[:k]
    top = order[::-1][:k]  # disjoint from bottom since 2k <= n
    steps = {}
    for j, i in enumerate(top):
        a = max(rate - rate_decay * j, 0.0)
        new[i] = int(round(new[i] + a * init_widths[i]))
    for j, i in enumerate(bottom):
        a = max(rate - rate_decay * j, 0.0)
        new[i] = max(int(round(new[i] - a * init_widths[i])), min_width)
    for i in range(n):
        if new[i] != widths[i]:
            steps[i] = new[i] - int(widths[i])
    return new, dict(top=top, bottom=bottom, steps=steps)


__all__ = ['BudgetError', 'adjust_widths', 'drop_rates', 'k_schedule', 'rescale_widths']
