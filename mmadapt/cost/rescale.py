"""One factor for every width, so that a cost returns to a target (bisection, then single-channel corrections).

Shared by the width-search methods: Network Adjustment's rescaling step (Algorithm 1, line 14) and
DNA's uniformly scaled baselines.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple


class BudgetError(ValueError):
    """A cost target that the widths cannot meet within the tolerance; the message gives the numbers."""


def rescale_widths(widths: Sequence[int], cost_fn: Callable[[List[int]], float], target: float,
                   tolerance: float = 0.01, min_width: int = 4, probes: int = 40, max_moves: Optional[int] = None
                   ) -> Tuple[List[int], float, Dict]:
    """Scale all widths by one factor so that ``cost_fn(widths)`` returns to ``target``.

    Returns (widths, relative error ``(cost - target) / target``, info with the factor and the +-1
    moves). Raises :class:`BudgetError` when the result is farther than ``tolerance`` from the target.
    """
    base = [int(w) for w in widths]
    n = len(base)

    def scaled(s: float) -> List[int]:
        return [max(int(round(w * s)), min_width) for w in base]

    def err(ws: List[int]) -> float:
        return (cost_fn(ws) - target) / target

    lo, hi = 0.0, 1.0
    while err(scaled(hi)) < 0:  # grow the bracket until the cost is at least the target
        lo, hi = hi, hi * 2
        if hi > 1024:
            raise BudgetError(f'cost target {target:.6g} not reached even with every width x1024 '
                              f'({cost_fn(scaled(hi / 2)):.6g})')
    best, best_err, best_s = base, err(base), 1.0
    for _ in range(probes):
        mid = (lo + hi) / 2
        ws = scaled(mid)
        e = err(ws)
        if abs(e) < abs(best_err):
            best, best_err, best_s = ws, e, mid
        if e < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-6:
            break
    moves = []
    limit = 4 * n if max_moves is None else max_moves
    # +-1 channel on the width that helps most, until within a quarter of the tolerance
    while abs(best_err) > tolerance / 4 and len(moves) < limit:
        cand = None
        for i in range(n):
            for d in (-1, 1):
                if best[i] + d < min_width:
                    continue
                ws = list(best)
                ws[i] += d
                e = err(ws)
                if abs(e) < abs(best_err) and (cand is None or abs(e) < abs(cand[0])):
                    cand = (e, ws, i, d)
        if cand is None:
            break
        best_err, best = cand[0], cand[1]
        moves.append((cand[2], cand[3]))
    if abs(best_err) > tolerance:
        floor = cost_fn([min_width] * n)
        hint = (f'; the target is below the cost with every width at the minimum {min_width} ({floor:.6g})'
                if floor > target else '')
        raise BudgetError(f'rescaling reached {cost_fn(best):.6g} against the target {target:.6g}: an error of '
                          f'{best_err:+.2%}, outside the tolerance {tolerance:.2%}{hint}')
    return best, best_err, dict(factor=best_s, moves=moves)
