"""Multi-layer coordinate descent (MCD, Sec. 2.4) and its special case SCD (NetAdapt v1, L = 1).

Iteration ``i`` (from 1) has a resource target ``R(best_{i-1}) - r0 * R_0 * d^(i-1)`` (NetAdapt v1's
absolute schedule, the notes' recommendation 12), never below the budget (the last target is
clamped to it). It makes ``J`` samples, each the previous best with ``L`` distinct randomly chosen
layers shrunk *just enough* to meet the target: one grid step at a time (a width one point down,
or a kernel one option down, chosen uniformly among the layer's legal steps), round-robin over a
random order of the ``L`` layers, until the sample's resource is at most the target; layers that
cannot shrink further drop out, and a draw whose layers are all exhausted is drawn again (at most
10 x J draws per iteration). Duplicate samples are drawn again. With ``L = 1`` the samples are the
layers themselves, each shrunk alone (SCD: one sample per layer, ``J`` caps their number).
The samples are scored (higher is better: held-out accuracy with the super-network's weights) and
the best becomes the next parent (``criterion='accuracy'``, ties to the lower resource), or the one
of least accuracy drop per resource saved (``'ratio'``, NetAdapt v1's code). The search stops when
the best meets the budget. The schedule's cumulative reduction is bounded by ``r0 / (1 - d) * R_0``:
a budget below ``R_0 (1 - r0 / (1 - d))``, or below the smallest network of the space, is refused up
front with :class:`BudgetError`.

Everything random comes from a generator seeded by ``(seed, iteration)``, so an interrupted search
resumed from its state continues exactly, and every DDP rank draws the same samples.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .space import Genome, NAv2Space

CRITERIA = ('accuracy', 'ratio')


class BudgetError(ValueError):
    """A resource budget the search cannot reach; the message says why and what can."""


def reduction(i: int, r0: float, decay: float, r_init: float) -> float:
    """The resource reduction of iteration ``i`` (from 1): ``r0 x R_0 x decay^(i-1)``."""
    return r0 * r_init * decay ** (i - 1)


def schedule_floor(r_init: float, r0: float, decay: float) -> float:
    """The lowest resource the schedule can reach from ``r_init`` (``-inf`` when unbounded)."""
    if decay >= 1:
        return -math.inf
    return r_init * (1 - r0 / (1 - decay))


def check_budget(budget: float, r_init: float, r_min: float, r0: float, decay: float, unit: str = '') -> None:
    """Raise :class:`BudgetError` when ``budget`` cannot be met from ``r_init``."""
    if not (isinstance(budget, (int, float)) and math.isfinite(budget) and budget > 0):
        raise BudgetError(f'the budget must be a positive number, got {budget!r}')
    if budget < r_min:
        raise BudgetError(f'budget {budget:.6g}{unit} is below the smallest network of the search space '
                          f'({r_min:.6g}{unit}; the seed: {r_init:.6g}{unit}): raise the budget or widen the space '
                          '(more width points, bypass limits, kernels)')
    floor = schedule_floor(r_init, r0, decay)
    if budget < floor:
        raise BudgetError(f'budget {budget:.6g}{unit} is below what the schedule can reach from '
                          f'{r_init:.6g}{unit}: the reductions r0 x R_0 x d^(i-1) (r0={r0}, d={decay}) sum to at most '
                          f'{r0 / (1 - decay):.3g} x R_0, so the search never goes below {floor:.6g}{unit}; raise r0 '
                          'or the decay')


def iterations_needed(budget: float, r_init: float, r0: float, decay: float) -> int:
    """Iterations the schedule needs when every sample lands exactly on its target."""
    f = (r_init - budget) / r_init
    if f <= 0:
        return 0
    if decay >= 1:
        return math.ceil(f / r0)
    return math.ceil(math.log(1 - f * (1 - decay) / r0) / math.log(decay))


class MCD:
    """The MCD search of ``space`` under ``cost`` (a function of a derived spec).

    Args:
        space: the genomes. cost: ``cost(spec) -> resource`` (MAdds, predicted ms, ...).
        budget: the resource to reach. num_samples: J. num_layers: L (1: SCD).
        r0: initial reduction, a fraction of the seed's resource. decay: d.
        seed: seeds every iteration's draws. criterion: see :data:`CRITERIA`.
        clamp: the last target is the budget (False: the schedule's, which may overshoot below it).
        start: the genome to start from (default: the max network). costs: resources already known, by genome.
    """

    def __init__(self, space: NAv2Space, cost: Callable, budget: float, num_samples: int, num_layers: int,
                 r0: float, decay: float, seed: int = 0, criterion: str = 'accuracy', clamp: bool = True,
                 start: Optional[Genome] = None, costs: Optional[Dict[Genome, float]] = None):
        if criterion not in CRITERIA:
            raise ValueError(f'criterion must be one of {CRITERIA}, got {criterion!r}')
        for name, v in (('num_samples', num_samples), ('num_layers', num_layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f'{name} must be a positive integer, got {v!r}')
        if not 0 < r0 < 1:
            raise ValueError(f'r0 must be in (0, 1), got {r0!r}')
        if not 0 < decay <= 1:
            raise ValueError(f'decay must be in (0, 1], got {decay!r}')
        self.space, self._cost, self.budget = space, cost, float(budget)
        self.J, self.L, self.r0, self.decay, self.seed = num_samples, num_layers, r0, decay, seed
        self.criterion, self.clamp = criterion, clamp
        self.start = tuple(start) if start is not None else space.max_genome
        self._costs: Dict[Genome, float] = dict(costs or {})  # known resources (e.g. sent by DDP rank 0)
        self.r_init = self.cost(self.start)
        check_budget(self.budget, self.r_init, self.cost(space.min_genome), r0, decay)

    def cost(self, genome: Sequence[int]) -> float:
        genome = tuple(genome)
        c = self._costs.get(genome)
        if c is None:
            c = self._costs[genome] = float(self._cost(self.space.spec(genome)))
        return c

    # -- one iteration ----------------------------------------------------------------------------
    def target(self, i: int, current: float) -> float:
        t = current - reduction(i, self.r0, self.decay, self.r_init)
        return max(t, self.budget) if self.clamp else t

    def generator(self, i: int) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1000003 + i)

    def _shrink(self, genome: List[int], layers: List[int], target: float, g: torch.Generator) -> Optional[Genome]:
        """``genome`` with ``layers`` shrunk round-robin one step at a time until its cost is at
        most ``target``; None when they are exhausted first."""
        order = [layers[int(j)] for j in torch.randperm(len(layers), generator=g)]
        while order:
            for layer in list(order):
                legal = self.space.shrinkable(genome, layer)
                if not legal:
                    order.remove(layer)
                    continue
                genome[legal[int(torch.randint(len(legal), (1, ), generator=g))]] -= 1
                if self.cost(genome) <= target:
                    return tuple(genome)
        return None

    def propose(self, i: int, parent: Genome, target: float) -> List[Genome]:
        """The samples of iteration ``i`` from ``parent`` (deterministic in ``(seed, i)``)."""
        g = self.generator(i)
        layers = self.space.shrinkable_layers(parent)
        samples: List[Genome] = []
        seen = set()
        if self.L == 1:  # SCD: every layer shrunk alone, in a random order, J at most
            for j in torch.randperm(len(layers), generator=g).tolist():
                s = self._shrink(list(parent), [layers[j]], target, g)
                if s is not None and s not in seen:
                    seen.add(s)
                    samples.append(s)
                    if len(samples) >= self.J:
                        break
            return samples
        n = min(self.L, len(layers))
        for _ in range(10 * self.J):
            if len(samples) >= self.J or n == 0:
                break
            pick = torch.randperm(len(layers), generator=g)[:n].tolist()
            s = self._shrink(list(parent), [layers[j] for j in pick], target, g)
            if s is not None and s not in seen:
                seen.add(s)
                samples.append(s)
        return samples

    def select(self, samples: Sequence[Genome], scores: Sequence[float], parent_score: Optional[float],
               parent_cost: float) -> int:
        """Index of the best sample."""
        costs = [self.cost(s) for s in samples]
        if self.criterion == 'ratio' and parent_score is not None:
            keys = [((parent_score - a + 1e-6) / (parent_cost - c + 1e-5), c) for a, c in zip(scores, costs)]
            return min(range(len(samples)), key=lambda k: keys[k])
        return max(range(len(samples)), key=lambda k: (scores[k], -costs[k], -k))

    # -- the search -------------------------------------------------------------------------------
    def initial_state(self) -> dict:
        return dict(iteration=0, genome=list(self.start), cost=self.r_init, score=None, samples_evaluated=0,
                    trajectory=[])

    def done(self, state: dict) -> bool:
        return state['cost'] <= self.budget

    def advance(self, state: dict, target: float, samples: Sequence[Genome], scores: Sequence[float]) -> dict:
        """The state after an iteration whose ``samples`` (from :meth:`propose`) scored ``scores``."""
        i = state['iteration'] + 1
        if not samples:
            raise BudgetError(f'MCD iteration {i}: no sample of {self.J} draws could reach the target '
                              f'{target:.6g} from {state["cost"]:.6g} (every chosen layer is at its smallest); '
                              'the space cannot go lower')
        scores = [float(s) for s in scores]
        if len(scores) != len(samples):
            raise ValueError(f'the evaluator returned {len(scores)} scores for {len(samples)} samples')
        best = self.select(samples, scores, state['score'], state['cost'])
        genome = tuple(samples[best])
        entry = dict(iteration=i, target=target, cost=self.cost(genome), score=scores[best], genome=list(genome),
                     parent_score=state['score'],
                     num_samples=len(samples), mean_score=sum(scores) / len(scores),
                     costs=[self.cost(s) for s in samples], scores=scores)
        return dict(iteration=i, genome=list(genome), cost=entry['cost'], score=scores[best],
                    samples_evaluated=state['samples_evaluated'] + len(samples),
                    trajectory=state['trajectory'] + [entry])

    def step(self, state: dict, evaluate: Callable[[List[Genome]], List[float]]) -> dict:
        """One iteration from ``state``; returns the next state (``state`` itself is not changed)."""
        i = state['iteration'] + 1
        target = self.target(i, state['cost'])
        samples = self.propose(i, tuple(state['genome']), target)
        return self.advance(state, target, samples, evaluate(samples) if samples else [])

    def run(self, evaluate: Callable[[List[Genome]], List[float]], state: Optional[dict] = None,
            on_iteration: Optional[Callable[[dict], None]] = None, max_iterations: Optional[int] = None) -> dict:
        """Iterate from ``state`` (default: the start) until the budget is met (or ``max_iterations``
        more iterations ran); ``on_iteration(state)`` after each (e.g. write it to a file)."""
        state = self.initial_state() if state is None else state
        n = 0
        while not self.done(state) and (max_iterations is None or n < max_iterations):
            state = self.step(state, evaluate)
            n += 1
            if on_iteration is not None:
                on_iteration(state)
        return state


def trajectory_rows(state: dict) -> List[Tuple[int, float, float, int]]:
    """(iteration, score, cost, samples) of every iteration's best."""
    return [(e['iteration'], e['score'], e['cost'], e['num_samples']) for e in state['trajectory']]
