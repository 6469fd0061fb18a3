"""DNA's architecture parameters: Markov chains over channel groups and layers (Sec. 3.3).

A chain is a small grid of states ``(row, col)``. Row ``r`` is a layer, column ``c`` a width state of
it (its ``c``-th channel group is kept); a path starts at ``(0, 0)`` (always kept) and moves

* ``'right'``: ``(r, c) -> (r, c + 1)``, one more group of the same layer;
* ``'down'``: ``(r, c) -> (r + 1, 0)``, the next layer exists (row ``r``'s width is fixed at ``c``);
* ``'end'``: the terminal state ``S_E``; the path (a sub-network of the unit) is complete.

A *width chain* (one layer's width) has one row of up to three columns (``K-1``, ``K``, ``K+1``
groups); a *joint chain* (the last layers of a stage, Fig. 3) has a row per layer whose existence is
searched. Transition probabilities are ``softmax(-alpha)`` over the allowed outgoing moves of a
state, the terminal one included (a state with one allowed move has no parameter); marginals follow
Eq. 2 within a row and Eq. 3 between rows. A path is written as the tuple of the column at which each
existing row was left, e.g. ``(1, 0)``: two layers, the first at column 1, the second at column 0.

Nothing here knows networks: :mod:`.space` maps rows and columns to blocks and widths.
"""
import itertools
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch

MOVES = ('right', 'down', 'end')
State = Tuple[int, int]
Path = Tuple[int, ...]


class MarkovChain:
    """A chain of ``rows[r]`` columns per row (see the module docstring).

    Args:
        rows: number of columns (width states) of every row; row 0 always exists.
        blocked: transitions removed from the chain, as ``(row, col, move)``.
    """

    def __init__(self, rows: Sequence[int], blocked: Iterable[Tuple[int, int, str]] = ()):
        rows = [int(n) for n in rows]
        if not rows or any(n < 1 for n in rows):
            raise ValueError(f'a Markov chain needs at least one row and one column per row, got {rows}')
        self.rows = rows
        blocked = set(blocked)
        for r, c, move in blocked:
            if move not in MOVES:
                raise ValueError(f'unknown move {move!r}; moves are {MOVES}')
        self.moves: Dict[State, List[str]] = {}
        for r, n in enumerate(rows):
            for c in range(n):
                allowed = [m for m in MOVES if (r, c, m) not in blocked
                           and (m != 'right' or c + 1 < n) and (m != 'down' or r + 1 < len(rows))]
                if not allowed:
                    raise ValueError(f'state ({r}, {c}) has no allowed transition')
                self.moves[(r, c)] = allowed
        # parameters: one logit per move of a state with a choice, in state order
        self.offsets: Dict[State, int] = {}
        n = 0
        for state, allowed in self.moves.items():
            if len(allowed) > 1:
                self.offsets[state] = n
                n += len(allowed)
        self.num_params = n
        self._paths = self._enumerate()

    def __repr__(self) -> str:
        return f'MarkovChain(rows={self.rows}, params={self.num_params}, paths={len(self._paths)})'

    # -- probabilities --------------------------------------------------------------------------------
    def _check(self, alpha: torch.Tensor) -> None:
        if alpha.shape != (self.num_params, ):
            raise ValueError(f'this chain has {self.num_params} architecture parameters, got a tensor of shape '
                             f'{tuple(alpha.shape)}')

    def transitions(self, alpha: torch.Tensor) -> Dict[State, Dict[str, torch.Tensor]]:
        """``p(move | state)`` for every state: ``softmax(-alpha)`` over its allowed moves."""
        self._check(alpha)
        one = alpha.new_ones(())
        out = {}
        for state, allowed in self.moves.items():
            if len(allowed) == 1:
                out[state] = {allowed[0]: one}
                continue
            o = self.offsets[state]
            p = torch.softmax(-alpha[o:o + len(allowed)], dim=0)
            out[state] = {m: p[i] for i, m in enumerate(allowed)}
        return out

    def marginals(self, alpha: torch.Tensor, transitions: Optional[Dict[State, Dict[str, torch.Tensor]]] = None
                  ) -> Dict[State, torch.Tensor]:
        """``p(S_{r,c})``: the probability that a path passes through each state (Eq. 2, 3);
        ``transitions``: :meth:`transitions` of ``alpha`` when the caller has them already."""
        t = self.transitions(alpha) if transitions is None else transitions
        zero = alpha.new_zeros(())
        p = {state: zero for state in self.moves}
        p[(0, 0)] = alpha.new_ones(())
        for r, n in enumerate(self.rows):
            for c in range(n):
                here = p[(r, c)]
                moves = t[(r, c)]
                if 'right' in moves:
                    p[(r, c + 1)] = p[(r, c + 1)] + here * moves['right']  # Eq. 2
                if 'down' in moves:
                    p[(r + 1, 0)] = p[(r + 1, 0)] + here * moves['down']  # Eq. 3
        return p

    # -- paths ----------------------------------------------------------------------------------------
    def _enumerate(self) -> List[Tuple[Path, List[Tuple[State, str]]]]:
        out = []

        def walk(state: State, cols: List[int], steps: List[Tuple[State, str]]):
            r, c = state
            for move in self.moves[state]:
                step = steps + [(state, move)]
                if move == 'right':
                    walk((r, c + 1), cols, step)
                elif move == 'down':
                    walk((r + 1, 0), cols + [c], step)
                else:
                    out.append((tuple(cols + [c]), step))

        walk((0, 0), [], [])
        return out

    def paths(self) -> List[Path]:
        """Every path from ``(0, 0)`` to the terminal state, as column tuples (fixed order)."""
        return [p for p, _ in self._paths]

    def path_probs(self, alpha: torch.Tensor) -> torch.Tensor:
        """Probability of every path of :meth:`paths` (differentiable; they sum to 1)."""
        t = self.transitions(alpha)
        probs = []
        for _, steps in self._paths:
            p = alpha.new_ones(())
            for state, move in steps:
                p = p * t[state][move]
            probs.append(p)
        return torch.stack(probs)

    def state_on_path(self, path: Path, state: State) -> bool:
        r, c = state
        return r < len(path) and c <= path[r]

    def argmax_path(self, alpha: torch.Tensor, default: Optional[Path] = None, rtol: float = 1e-6) -> Path:
        """Follow the most probable transition from ``(0, 0)`` to the end (Sec. 3.4).

        Ties (within ``rtol``) go the way ``default`` (the current network's path) goes from that
        state, so untrained parameters (all zero) leave the network as it is; off ``default`` a tie
        ends the path.
        """
        with torch.no_grad():
            t = self.transitions(alpha.detach())
        state, cols = (0, 0), []
        while True:
            probs = {m: float(p) for m, p in t[state].items()}
            best = max(probs.values())
            tied = [m for m, p in probs.items() if p >= best * (1 - rtol)]
            move = tied[0]
            if len(tied) > 1:
                prefer = self._default_move(default, state)
                move = prefer if prefer in tied else ('end' if 'end' in tied else tied[0])
            r, c = state
            if move == 'right':
                state = (r, c + 1)
            elif move == 'down':
                cols.append(c)
                state = (r + 1, 0)
            else:
                cols.append(c)
                return tuple(cols)

    def _default_move(self, default: Optional[Path], state: State) -> Optional[str]:
        if default is None:
            return None
        r, c = state
        if r >= len(default) or c > default[r]:
            return None
        if c < default[r]:
            return 'right'
        return 'down' if r + 1 < len(default) else 'end'

    def sample(self, alpha: torch.Tensor, generator: Optional[torch.Generator] = None, n: Optional[int] = None):
        """A path drawn from the chain's transitions (the Markov process of Sec. 3.5 / Table 4); with
        ``n``, a list of ``n`` independent paths."""
        with torch.no_grad():
            t = {s: (list(m), torch.stack([p for p in m.values()]).double().cumsum(0).tolist())
                 for s, m in self.transitions(alpha.detach()).items()}
        out = []
        for _ in range(1 if n is None else n):
            state, cols = (0, 0), []
            while True:
                moves, cum = t[state]
                u = float(torch.rand((), generator=generator, dtype=torch.float64)) * cum[-1]
                move = moves[next((i for i, c in enumerate(cum) if u < c), len(moves) - 1)]
                r, c = state
                if move == 'right':
                    state = (r, c + 1)
                    continue
                cols.append(c)
                if move == 'down':
                    state = (r + 1, 0)
                    continue
                out.append(tuple(cols))
                break
        return out[0] if n is None else out

    def expectation(self, alpha: torch.Tensor, values: Sequence[float]) -> torch.Tensor:
        """``sum_paths p(path) * values[path]`` for one value per path of :meth:`paths`."""
        v = torch.as_tensor(values, dtype=alpha.dtype)
        if v.shape != (len(self._paths), ):
            raise ValueError(f'{len(self._paths)} paths, got {tuple(v.shape)} values')
        return (self.path_probs(alpha) * v).sum()


def all_paths(chains: Sequence[MarkovChain]) -> Iterable[Tuple[Path, ...]]:
    """Every combination of paths of independent chains (for brute-force checks on small spaces)."""
    return itertools.product(*[c.paths() for c in chains])
