"""DNA's elastic search space around the current network N_i (Sec. 3.1-3.5).

The *units* of a network are the widths :func:`mmadapt.arch.widths.width_vars` names (with
``ends=True``: the stem and head conv too; bottleneck ResNets have one hidden width per block, shared
by conv1 and conv2, as the spec vocabulary does). Each unit's channels are split into groups of
``g = max(1, floor(C_seed / K))`` channels, fixed for the whole run (the remainder stays in the first
group, which is never removed). A round searches, around the current network N_i:

* **width** (``width=True``): every unit keeps ``C - g``, ``C`` or ``C + g`` channels (a width
  chain: three states, Sec. 3.3.1); a unit at its first group cannot shrink, a unit at its cap
  (``max_groups`` groups) cannot grow;
* **depth** (``depth=True``): the last blocks of every stage form a joint chain (Fig. 3, Eq. 3) whose
  rows are the block before the last (always kept), the last block (removable, unless it is the
  stage's first), and a new block appended after it (a copy of the last block with stride 1 and an
  identity shortcut; until the stage reaches ``max_blocks``); each row's columns are the widths of
  its hidden unit. Depth changes need identity shortcuts, so a stage whose blocks have none
  (MobileNetV1) has no depth search.

The widths that identity shortcuts tie (a stage's output width; a ResNet stem and its first stage)
are one unit. Nothing here trains: the space gives the chains and their parameters, the sub-networks
phase 1 trains, the gates phase 2 multiplies in, the expected cost (Eq. 5-7) exactly (the MAdds are
a polynomial in the widths and the layers' existence, :mod:`mmadapt.cost.width_terms`, and the
chains are independent, so the expectation of every term is a product of per-chain expectations,
summed over each chain's paths), phase 3's adaption and the target networks of Sec. 3.5.
"""
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mmadapt.arch import ArchSpec, SpecError, load_spec, spec_from_dict
from mmadapt.arch.widths import set_widths, width_vars
from mmadapt.cost.madds import classifier_cost, spec_cost
from mmadapt.cost.width_terms import width_cost

from .markov import MarkovChain, Path

FAMILIES = ('mbv2', 'resnet', 'mbv1')
_WIDTH_OPTS = dict(ends=True, bottleneck=True)


def built_parts(spec: ArchSpec, out_indices: Optional[Sequence[int]] = None) -> Tuple[int, bool]:
    """(stages built, whether the head conv is built) of a backbone with ``out_indices`` (the head's
    index is ``len(spec.stages)``, e.g. ``out_indices=(7, )`` for a MobileNetV2 classifier)."""
    n = len(spec.stages)
    if out_indices is None:
        return n, spec.head is not None
    return min(max(out_indices) + 1, n), spec.head is not None and max(out_indices) >= n


def width_options(spec: ArchSpec, out_indices: Optional[Sequence[int]] = None) -> dict:
    """Keyword arguments of :mod:`mmadapt.arch.widths` for DNA's units of ``spec``."""
    n, head = built_parts(spec, out_indices)
    return dict(num_stages=n, with_head=head, **_WIDTH_OPTS)


def round_half_up(x: float) -> int:
    """``floor(x + 0.5)``: the rounding of the expected network (not Python's banker's rounding)."""
    return int(math.floor(float(x) + 0.5))


@dataclass
class UnitGroups:
    """The channel groups of one width unit: group size, smallest and largest allowed width."""
    g: int
    min: int
    max: int

    def to_dict(self) -> dict:
        return dict(g=self.g, min=self.min, max=self.max)


def unit_groups(seed, groups: int = 10, max_groups: int = 20, out_indices: Optional[Sequence[int]] = None
                ) -> Dict[str, UnitGroups]:
    """The groups of every unit of ``seed``: ``K = groups`` equal groups (remainder in the first one,
    which is never removed); a unit may grow to ``max_groups`` groups."""
    if groups < 1 or max_groups < groups:
        raise ValueError(f'need 1 <= groups <= max_groups, got groups={groups}, max_groups={max_groups}')
    out = {}
    seed = load_spec(seed)
    for v in width_vars(seed, **width_options(seed, out_indices)):
        g = max(1, v.value // groups)
        first = v.value - (groups - 1) * g if v.value >= groups else 1
        out[v.name] = UnitGroups(g, max(1, first), v.value + (max_groups - groups) * g)
    return out


def _check_family(spec: ArchSpec) -> None:
    if spec.family not in FAMILIES:
        raise SpecError(f'DNA adapts {list(FAMILIES)} networks; spec {spec.name!r} is {spec.family!r} (mbv3 and '
                        'EfficientNet: the squeeze-excitation width is a rounded function of the hidden width, '
                        'which the exact expected MAdds of Eq. 6 do not cover yet)')
    if spec.family == 'resnet' and spec.shortcut != 'conv':
        raise SpecError(f"spec {spec.name!r} has zero-padded shortcuts ({spec.shortcut!r}); DNA's elastic networks "
                        "need projection shortcuts (shortcut: conv)")
    for info in spec.layers():
        if info.candidates[0].is_skip or info.hidden(info.candidates[0], spec.block_type) == 0:
            raise SpecError(f'spec {spec.name!r}: stage {info.stage} layer {info.layer} is a removed layer; DNA adapts '
                            'depth at the end of each stage, so give a seed without removed layers (drop them '
                            'from the spec and its checkpoint)')


def max_blocks_of(seed, max_blocks, depth: bool = True) -> List[int]:
    """The most blocks of every stage: ``max_blocks`` per stage (a list) or blocks added at most (an
    int); the seed's depths where depth is not searched (or cannot be: MobileNetV1)."""
    seed = load_spec(seed)
    depths = [st.depth for st in seed.stages]
    if not depth or seed.family == 'mbv1':
        return depths
    if isinstance(max_blocks, int):
        return [d + max_blocks for d in depths]
    if len(max_blocks) != len(depths):
        raise ValueError(f'max_blocks has {len(max_blocks)} entries, the seed {len(depths)} stages')
    return [int(m) for m in max_blocks]


def append_block(spec: ArchSpec, stage: int) -> ArchSpec:
    """``spec`` with a copy of the last block of ``stage`` appended (stride 1, identity shortcut)."""
    d = spec.to_dict()
    blocks = d['stages'][stage]['blocks']
    blocks.append(blocks[-1])
    return spec_from_dict(d)


def bank_spec(seed, groups: Dict[str, UnitGroups], max_blocks: Sequence[int],
              out_indices: Optional[Sequence[int]] = None) -> Tuple[ArchSpec, Dict[str, UnitGroups]]:
    """The largest network DNA may reach (every unit at its cap, every stage at ``max_blocks``): the
    max spec of the elastic network that holds every weight of the search. Returns it and the groups
    with the appended blocks' units (copies of the stage's last block)."""
    spec = load_spec(seed)
    groups = dict(groups)
    kw = width_options(spec, out_indices)
    n = kw['num_stages']
    for s in range(n):
        if max_blocks[s] < spec.stages[s].depth:
            raise SpecError(f'max_blocks of stage {s} ({max_blocks[s]}) is below the seed depth {spec.stages[s].depth}')
        while spec.stages[s].depth < max_blocks[s]:
            j = spec.stages[s].depth
            spec = append_block(spec, s)
            for kind in ('h', 'c'):
                if f's{s}.b{j - 1}.{kind}' in groups:
                    groups[f's{s}.b{j}.{kind}'] = groups[f's{s}.b{j - 1}.{kind}']
    values = {v.name: groups[v.name].max for v in width_vars(spec, **kw)}
    bank = set_widths(spec, values, name=f'{spec.name}_dna_bank', **kw)
    return bank, groups


@dataclass
class _Chain:
    """A chain of the space: its Markov chain, the units and layers it decides, the current path."""
    name: str
    chain: MarkovChain
    default: Path
    # per row: (unit name or None, widths per column, (stage, layer) of the row's block or None)
    rows: List[Tuple[Optional[str], List[int], Optional[Tuple[int, int]]]]
    stage: Optional[int] = None  # a joint (depth) chain: its stage; None for a width chain
    before: int = 0  # blocks of the stage before the chain's first row


class DNASpace:
    """The search space of one round around ``center`` (see the module docstring).

    Args:
        center: the current network N_i (a derived spec).
        groups: :func:`unit_groups` of the seed (new blocks' units are added as they appear).
        max_blocks: the most blocks every stage may reach.
        width / depth: search widths / depths (the rows of Tables 1-3).
        input_size: (H, W) of the cost.
        num_classes: count the classifier's FC (None: backbone only, e.g. a detector's).
        out_indices: the backbone's outputs (stages after the last are not built).
    """

    def __init__(self, center, groups: Dict[str, UnitGroups], max_blocks: Sequence[int], width: bool = True,
                 depth: bool = True, input_size: Tuple[int, int] = (224, 224), num_classes: Optional[int] = None,
                 out_indices: Optional[Sequence[int]] = None):
        self.center = load_spec(center)
        _check_family(self.center)
        if not (width or depth):
            raise ValueError('DNA searches widths, depths or both: width and depth cannot both be off')
        self.width, self.depth = bool(width), bool(depth)
        self.input_size, self.num_classes = tuple(input_size), num_classes
        self.out_indices = tuple(out_indices) if out_indices is not None else None
        self._kw = width_options(self.center, self.out_indices)
        self.num_stages = self._kw['num_stages']
        self.groups = dict(groups)
        self.max_blocks = list(max_blocks)
        if len(self.max_blocks) < self.num_stages:
            raise ValueError(f'max_blocks has {len(self.max_blocks)} entries, the network {self.num_stages} stages')
        self.chains: List[_Chain] = []
        self._build()
        self.extended = self.spec_of({c.name: self._max_path(c) for c in self.chains}, name=f'{self.center.name}_ext')
        self.smallest = self.spec_of(self.paths_of('min'), name=f'{self.center.name}_min')
        self._units = self._gated_units()  # every phase-2 step gates these
        self._build_cost()

    # -- construction ---------------------------------------------------------------------------------
    def _options(self, name: str, value: int) -> Tuple[List[int], int]:
        """Widths a unit may take this round and the column of its current width."""
        if not self.width:
            return [value], 0
        g = self.groups[name]
        opts = [value]
        if value - g.g >= g.min:
            opts.insert(0, value - g.g)
        if value + g.g <= g.max:
            opts.append(value + g.g)
        return opts, opts.index(value)

    def _build(self) -> None:
        spec = self.center
        wvars = {v.name: v for v in width_vars(spec, **self._kw)}
        for name in wvars:
            if name not in self.groups:
                raise SpecError(f'unit {name!r} of {spec.name!r} has no channel groups (a unit the seed did not have)')
        in_rows = set()
        if self.depth:
            for s in range(self.num_stages):
                stage = spec.stages[s]
                if spec.family == 'mbv1':
                    continue  # no identity shortcuts: a layer cannot be removed or added by depth
                depth = stage.depth
                blocks = [depth - 2, depth - 1] if depth >= 2 else [depth - 1]
                if depth < self.max_blocks[s]:
                    blocks.append(depth)
                if len(blocks) < 2:
                    continue
                rows, default = [], []
                for j in blocks:
                    name = f's{s}.b{j}.h'
                    if j == depth:  # the new block: a copy of the last one
                        prev = f's{s}.b{j - 1}.h'
                        if prev in wvars:
                            self.groups.setdefault(name, self.groups[prev])
                            opts, col = self._options(name, wvars[prev].value)
                        else:
                            name, opts, col = None, [0], 0
                    elif name in wvars:
                        opts, col = self._options(name, wvars[name].value)
                        in_rows.add(name)
                        default.append(col)
                    else:
                        name, opts, col = None, [0], 0
                        default.append(0)
                    rows.append((name, opts, (s, j)))
                chain = MarkovChain([len(o) for _, o, _ in rows])
                self.chains.append(_Chain(f'depth.s{s}', chain, tuple(default), rows, stage=s, before=blocks[0]))
        if self.width:
            for name, v in wvars.items():
                if name in in_rows:
                    continue
                opts, col = self._options(name, v.value)
                if len(opts) > 1:
                    self.chains.append(_Chain(name, MarkovChain([len(opts)]), (col, ), [(name, opts, None)]))

    @staticmethod
    def _max_path(c: _Chain) -> Path:
        return tuple(len(o) - 1 for _, o, _ in c.rows)

    def init_alphas(self, std: float = 0.0, generator: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
        """Architecture parameters of every chain: zeros (uniform transitions), or N(0, std)."""
        out = {}
        for c in self.chains:
            a = torch.zeros(c.chain.num_params)
            if std > 0:
                a = torch.randn(c.chain.num_params, generator=generator) * std
            out[c.name] = a.requires_grad_(True)
        return out

    # -- sub-networks ---------------------------------------------------------------------------------
    def spec_of(self, paths: Dict[str, Path], name: Optional[str] = None) -> ArchSpec:
        """The derived spec of one path per chain (chains not given: their current path)."""
        spec = self.center
        d = spec.to_dict()
        values: Dict[str, int] = {}
        appended = []
        for c in self.chains:
            path = paths.get(c.name, c.default)
            if c.stage is not None:
                s = c.stage
                blocks = d['stages'][s]['blocks']
                depth = c.before + len(path)
                while len(blocks) < depth:
                    blocks.append(blocks[-1])
                    appended.append(s)
                del blocks[depth:]
            for r, col in enumerate(path):
                unit, opts, _ = c.rows[r]
                if unit is not None:
                    values[unit] = opts[col]
        out = spec_from_dict(d)
        known = {v.name for v in width_vars(out, **self._kw)}
        missing = [k for k in values if k not in known]
        if missing:  # pragma: no cover - rows and units are built together
            raise SpecError(f'units {missing} are not in the sub-network')
        out = set_widths(out, values, name=name or f'{spec.name}_sub', **self._kw)
        return out

    def paths_of(self, which: str, generator: Optional[torch.Generator] = None) -> Dict[str, Path]:
        """One path per chain: ``'max'``, ``'min'``, ``'center'`` or ``'random'`` (uniform over each
        chain's paths, independently: A16 of the notes)."""
        out = {}
        for c in self.chains:
            paths = c.chain.paths()
            if which == 'max':
                out[c.name] = self._max_path(c)
            elif which == 'min':
                out[c.name] = (0, )
            elif which == 'center':
                out[c.name] = c.default
            elif which == 'random':
                out[c.name] = paths[int(torch.randint(len(paths), (1, ), generator=generator))]
            else:
                raise ValueError(f"which must be 'max', 'min', 'center' or 'random', got {which!r}")
        return out

    # -- probabilities ----------------------------------------------------------------------------------
    def _check_alphas(self, alphas: Dict[str, torch.Tensor]) -> None:
        missing = [c.name for c in self.chains if c.name not in alphas]
        if missing:
            raise KeyError(f'architecture parameters missing for chains {missing}')

    def marginals(self, alphas) -> Dict[str, Dict[Tuple[int, int], torch.Tensor]]:
        self._check_alphas(alphas)
        return {c.name: c.chain.marginals(alphas[c.name]) for c in self.chains}

    def gate_scales(self, alphas) -> Dict[str, torch.Tensor]:
        """Per-channel multipliers of the elastic network's conv units (Eq. 4), for the extended network.

        A unit's channels of column ``c`` are multiplied by the marginal ``p(S_c)`` of its width chain;
        a row of a joint chain uses the marginal given that its block exists
        (``p(S_{r,c}) / p(S_{r,0})``), and the block's last conv (whose output is added to the identity
        shortcut) is multiplied by the existence ``p(S_{r,0})`` once: ``y = x + p * F(x)`` (notes
        A10). Gates act on the unit outputs after the activation (the elastic network's modulation door).
        """
        self._check_alphas(alphas)
        unit_gate: Dict[str, torch.Tensor] = {}
        exist: Dict[Tuple[int, int], torch.Tensor] = {}
        for c in self.chains:
            a = alphas[c.name]
            t = c.chain.transitions(a)
            marg = c.chain.marginals(a, t)
            for r, (unit, opts, layer) in enumerate(c.rows):
                cond = [a.new_ones(())]
                for col in range(1, len(opts)):
                    cond.append(cond[-1] * t[(r, col - 1)]['right'])
                if unit is not None:
                    pieces = []
                    lo = 0
                    for col, w in enumerate(opts):
                        pieces.append(cond[col].expand(w - lo))
                        lo = w
                    unit_gate[unit] = torch.cat(pieces)
                if layer is not None and r > 0:
                    exist[layer] = marg[(r, 0)]
        scales: Dict[str, torch.Tensor] = {}
        for uname, var, layer, last in self._units:
            s = unit_gate.get(var) if var is not None else None
            e = exist.get(layer) if last and layer is not None else None
            if s is None and e is None:
                continue
            if s is None:
                s = e.reshape(1)
            elif e is not None:
                s = s * e
            scales[uname] = s
        return scales

    def _gated_units(self) -> List[Tuple[str, Optional[str], Optional[Tuple[int, int]], bool]]:
        """(unit name, width unit of its output, its block, whether it is the block's last conv) of
        every conv unit of the extended network, in the elastic backbone's names."""
        spec = self.extended
        names = {v.name for v in width_vars(spec, **self._kw)}

        def var(name):
            return name if name in names else None

        out = []
        running = var('stem') if 'stem' in names else (var('s0.out') if spec.family == 'resnet'
                                                        and spec.stem['out_channels'] == spec.stages[0].out_channels
                                                        else None)
        out.append(('stem', running, None, False))
        for info in spec.layers():
            if info.stage >= self.num_stages:
                break
            s, j = info.stage, info.layer
            b = info.candidates[0]
            name = f'stages.{s}.{j}'
            h, stage = var(f's{s}.b{j}.h'), var(f's{s}.out')
            if b.kind == 'mbconv':
                if h is not None:
                    out.append((f'{name}.expand_conv', h, (s, j), False))
                out.append((f'{name}.depthwise_conv', h if h is not None else running, (s, j), False))
                out.append((f'{name}.linear_conv', stage, (s, j), True))
                running = stage
            elif b.kind == 'resblock':
                out.append((f'{name}.conv1', h, (s, j), False))
                if spec.block_type == 'basic':
                    out.append((f'{name}.conv2', stage, (s, j), True))
                else:
                    out.append((f'{name}.conv2', h, (s, j), False))
                    out.append((f'{name}.conv3', stage, (s, j), True))
                if not info.has_shortcut():
                    out.append((f'{name}.downsample', stage, (s, j), False))
                running = stage
            else:  # separable
                c = var(f's{s}.b{j}.c')
                out.append((f'{name}.depthwise_conv', running, (s, j), False))
                out.append((f'{name}.pointwise_conv', c, (s, j), True))
                running = c
        if self._kw['with_head']:
            out.append(('head', var('head'), None, False))
        return out

    # -- cost -----------------------------------------------------------------------------------------
    def _build_cost(self) -> None:
        """The MAdds of the extended network as a polynomial in its units and the existence of its
        removable blocks, each factor looked up on its chain's paths."""
        wc = width_cost(self.extended, self.input_size, num_classes=self.num_classes, out_indices=self.out_indices,
                        **_WIDTH_OPTS)
        # factor -> (chain index, its value on every path of the chain)
        factor: Dict[object, Tuple[int, List[float]]] = {}
        for i, c in enumerate(self.chains):
            paths = c.chain.paths()
            for r, (unit, opts, layer) in enumerate(c.rows):
                if unit is not None:
                    factor[unit] = (i, [float(opts[p[r]]) if r < len(p) else 0.0 for p in paths])
                if layer is not None and r > 0:
                    factor[layer] = (i, [1.0 if r < len(p) else 0.0 for p in paths])
        const = float(wc.const)
        terms = []  # (constant multiplier, [(chain index, values on its paths)])
        for (coef, a, b), layer in zip(wc.terms, wc.term_layers):
            parts, mult = [], float(coef)
            for v in (a, b):
                if v is None:
                    continue
                name = wc.vars[v].name
                if name in factor:
                    parts.append(factor[name])
                else:
                    mult *= wc.vars[v].value
            if layer is not None and layer in factor:
                parts.append(factor[layer])
            terms.append((mult, parts))
        for layer, value in wc.layer_const.items():
            if layer in factor and value:
                const -= value
                terms.append((float(value), [factor[layer]]))
        self._cost_const = const
        # group each term's parts by chain: the chains are independent
        self._cost_terms = []
        for mult, parts in terms:
            by_chain: Dict[int, List[float]] = {}
            for ci, vals in parts:
                prev = by_chain.get(ci)
                by_chain[ci] = list(vals) if prev is None else [x * y for x, y in zip(prev, vals)]
            self._cost_terms.append((mult, [(ci, torch.tensor(v, dtype=torch.float64)) for ci, v in by_chain.items()]))

    def expected_cost(self, alphas) -> torch.Tensor:
        """E[MAdds] of the sub-networks the chains draw (Eq. 5-7, exact), differentiable in alpha."""
        self._check_alphas(alphas)
        probs = [c.chain.path_probs(alphas[c.name].double()) for c in self.chains]
        total = torch.zeros((), dtype=torch.float64)
        for mult, parts in self._cost_terms:
            t = mult
            for ci, vals in parts:
                t = t * (probs[ci] * vals).sum()
            total = total + t
        return total + self._cost_const

    def cost_of(self, spec) -> int:
        """MAdds of a derived spec, counted layer by layer (conv + FC multiply-adds)."""
        if self.num_classes is not None:
            return classifier_cost(spec, self.num_classes, self.input_size).madds
        return spec_cost(spec, self.input_size, self.out_indices).madds

    # -- phase 3 and the target network --------------------------------------------------------------------
    def argmax_paths(self, alphas) -> Dict[str, Path]:
        """The most probable transitions of every chain (Sec. 3.4), ties toward the current network."""
        self._check_alphas(alphas)
        return {c.name: c.chain.argmax_path(alphas[c.name], c.default) for c in self.chains}

    def adapt(self, alphas, name: Optional[str] = None) -> ArchSpec:
        """N_{i+1}: each unit moves by at most one group, each stage by at most one block (Sec. 3.4)."""
        return self.spec_of(self.argmax_paths(alphas), name=name or self.center.name)

    def expected_network(self, alphas, conditional: bool = True, name: Optional[str] = None) -> ArchSpec:
        """The expected network (Sec. 3.5): ``floor(E[layers] + 0.5)`` blocks per stage (Eq. 9) and
        ``floor(E[channels] + 0.5)`` channels per unit (Eq. 5). With ``conditional`` (default; notes
        A5) a kept optional block uses its width given that it exists; otherwise Eq. 5 literally."""
        self._check_alphas(alphas)
        spec = self.center
        d = spec.to_dict()
        values: Dict[str, int] = {}
        with torch.no_grad():
            for c in self.chains:
                a = alphas[c.name].detach()
                t = c.chain.transitions(a)
                marg = c.chain.marginals(a, t)
                keep = len(c.rows)
                if c.stage is not None:
                    exist = [float(marg[(r, 0)]) for r in range(len(c.rows))]
                    keep = max(1, round_half_up(sum(exist)))
                    blocks = d['stages'][c.stage]['blocks']
                    depth = c.before + keep
                    while len(blocks) < depth:
                        blocks.append(blocks[-1])
                    del blocks[depth:]
                for r, (unit, opts, layer) in enumerate(c.rows[:keep]):
                    if unit is None:
                        continue
                    cond, lo, e = 1.0, 0, 0.0
                    for col, w in enumerate(opts):
                        if col > 0:
                            cond *= float(t[(r, col - 1)]['right'])
                        e += cond * (w - lo)
                        lo = w
                    if not conditional and c.stage is not None:
                        e *= float(marg[(r, 0)])
                    values[unit] = max(1, round_half_up(e))
        out = spec_from_dict(d)
        return set_widths(out, values, name=name or f'{spec.name}_expected', **self._kw)

    def markov_network(self, alphas, budget: float, tolerance: float = 0.01, tries: int = 1000,
                       generator: Optional[torch.Generator] = None, name: Optional[str] = None) -> ArchSpec:
        """A network drawn from the Markov process within ``tolerance`` of ``budget`` (Table 4), by
        rejection; raises when ``tries`` draws all miss."""
        self._check_alphas(alphas)
        best = None
        for _ in range(tries):
            paths = {c.name: c.chain.sample(alphas[c.name], generator) for c in self.chains}
            spec = self.spec_of(paths, name=name or f'{self.center.name}_markov')
            cost = self.cost_of(spec)
            if abs(cost - budget) <= tolerance * budget:
                return spec
            if best is None or abs(cost - budget) < best[0]:
                best = (abs(cost - budget), cost)
        raise SpecError(f'no Markov-sampled network within {tolerance:.1%} of the budget {budget / 1e6:.2f}M in {tries} '
                        f'draws (closest: {best[1] / 1e6:.2f}M); widen the tolerance or train the chains longer')
