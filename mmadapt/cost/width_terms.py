"""MAdds as a polynomial in the width variables of a derived spec, and each width's FLOPs sensitivity.

Every conv and linear layer costs ``coef x c_in x c_out`` multiply-adds (``coef`` = kernel area x
output pixels; a depthwise conv ``coef x c``), so the MAdds of a network are a sum of terms
``coef x c_a x c_b`` over its width variables (:mod:`mmadapt.arch.widths`), constant widths folded
into ``coef``. :func:`width_cost` lists these terms exactly as :func:`mmadapt.cost.spec_cost` /
:func:`mmadapt.cost.classifier_cost` count the network (tests check the two agree on every spec and
that the derivatives equal finite differences of the counter); no symbolic algebra is needed.

The FLOPs sensitivity of width ``c_l`` is ``S_l = c_l * dF/dc_l``: the MAdds of its own conv plus
those of every consumer of that width (the next conv, a projection shortcut, the classifier). Since
``F`` is linear in each ``c_l``, ``p * S_l`` are exactly the MAdds removed by deleting a fraction
``p`` of the layer's channels (Network Adjustment, Sec. 3.3).

**Who owns a zero-padded running width.** With zero-padded shortcuts (``shortcut: pad`` /
``pad_proj``) a block's output is the maximum of its conv width and its input width, so ``F`` is
piecewise bilinear: the running width belongs to one variable (or to the stem, a constant), and only
that owner sees the downstream consumers. The rule (``tie``):

* ``'first'`` (default for ``shortcut: pad``, as Network Adjustment's CIFAR code): a block's conv
  width takes the running width over only when strictly wider; on a tie the earlier owner keeps it;
* ``'last'`` (default for ``shortcut: pad_proj``, as its ImageNet code): the block takes it over
  when at least as wide; a projection shortcut always resets the running width to the block's conv.

The polynomial is valid around the widths it was built at; at a tie its one-sided derivatives differ
(the kink), which is why it is rebuilt from each new spec.

**Options.** ``ends=True`` makes the stem and the head conv widths variables too (a tied stem is
``s0.out``; :func:`mmadapt.arch.widths.width_vars`): the running width starts at the stem, the head conv
writes the head width, and the classifier reads it (``num_classes x head``). ``bottleneck=True``
allows bottleneck ResNets: conv1 (1x1, at the block's input size) ``cin x h``, conv2 (the block's
kernel, carrying the stride) ``h x h`` -- a square term ``(coef, a, a)`` --, conv3 (1x1) ``h x c``
and the 1x1 projection shortcut ``cin x c``, as :func:`mmadapt.cost.madds.block_cost` counts them.
Either way the polynomial holds as long as the structure of the network stays (which layers have
a projection shortcut): a free stem made as wide as a stride-1 stage 0 would turn its projection into
an identity.

**Per block.** Every term is tagged with the layer it was generated for (``term_layers``: ``(stage,
layer)``, None for the stem, the head conv and the classifier), and the MAdds of a block that depend on
no variable are kept per layer as well (``layer_const``, every built layer has an entry), so that a
sum over blocks can be weighted block by block; ``const`` still holds all constant MAdds.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from mmadapt.arch import ArchSpec, load_spec
from mmadapt.arch.widths import WidthVar, _pad_mode, stem_tied, width_vars
from .madds import spec_cost

TIES = ('first', 'last')

# a width expression: (variable index, or None for a constant; its value)
_Expr = Tuple[Optional[int], int]


@dataclass
class WidthCost:
    """MAdds of a derived spec as ``const + sum(coef * c[a] * c[b])`` over its width variables.

    ``terms`` holds ``(coef, a, b)`` with ``a`` a variable index and ``b`` a variable index or None
    (a term linear in ``c[a]``; ``a == b``: a square, the middle conv of a bottleneck); ``running[i]``
    is the variable that owns the width leaving layer ``i`` of the network (None: a constant width,
    e.g. the stem's). ``term_layers[t]`` is the ``(stage, layer)`` of the block term ``t`` belongs to
    (None: the stem, the head conv or the classifier) and ``layer_const[(stage, layer)]`` the MAdds of
    that block that depend on no variable (included in ``const``).
    """
    spec: ArchSpec
    vars: List[WidthVar]
    const: int = 0
    terms: List[Tuple[int, int, Optional[int]]] = field(default_factory=list)
    tie: str = 'first'
    # per layer (network order): the variable owning the running width after it (None: a constant)
    running: List[Optional[int]] = field(default_factory=list)
    # parallel to ``terms``: (stage, layer) of the block a term was generated for, None outside the blocks
    term_layers: List[Optional[Tuple[int, int]]] = field(default_factory=list)
    # per built layer: its MAdds that depend on no variable (also counted in ``const``)
    layer_const: Dict[Tuple[int, int], int] = field(default_factory=dict)

    def values(self) -> List[int]:
        return [v.value for v in self.vars]

    def _vals(self, values: Optional[Sequence[float]]) -> List[float]:
        vals = self.values() if values is None else list(values)
        if len(vals) != len(self.vars):
            raise ValueError(f'{len(self.vars)} width variables, got {len(vals)} values')
        return vals

    def madds(self, values: Optional[Sequence[float]] = None) -> float:
        """``F(c)`` (exact for the spec's own widths; the same owners are assumed elsewhere)."""
        c = self._vals(values)
        return self.const + sum(k * c[a] * (1 if b is None else c[b]) for k, a, b in self.terms)

    def gradient(self, values: Optional[Sequence[float]] = None) -> List[float]:
        """``dF/dc_l`` for every variable."""
        c = self._vals(values)
        g = [0.0] * len(c)
        for k, a, b in self.terms:
            if b is None:
                g[a] += k
            elif a == b:
                g[a] += 2 * k * c[a]
            else:
                g[a] += k * c[b]
                g[b] += k * c[a]
        return g

    def sensitivities(self, values: Optional[Sequence[float]] = None) -> List[float]:
        """``S_l = c_l * dF/dc_l``: the MAdds that depend on width ``l`` (own conv and its consumers)."""
        c = self._vals(values)
        return [x * d for x, d in zip(c, self.gradient(c))]

    def consumers(self, index: int) -> List[Tuple[int, int, Optional[int]]]:
        """The terms that contain variable ``index``."""
        return [t for t in self.terms if index in (t[1], t[2])]


class _Builder:

    def __init__(self, cost: WidthCost):
        self.cost = cost
        self.layer: Optional[Tuple[int, int]] = None  # the block being costed (None: stem, head, classifier)

    def add(self, coef: int, x: _Expr, y: Optional[_Expr] = None) -> None:
        """Add ``coef * x * y`` (``y`` None: ``coef * x``), tagged with the current layer."""
        if coef == 0:
            return
        (a, va), (b, vb) = x, (y if y is not None else (None, 1))
        if a is None and b is None:
            self.cost.const += coef * va * vb
            if self.layer is not None:
                self.cost.layer_const[self.layer] = self.cost.layer_const.get(self.layer, 0) + coef * va * vb
            return
        if a is None:
            term = (coef * va, b, None)
        elif b is None:
            term = (coef * vb, a, None)
        else:
            term = (coef, min(a, b), max(a, b))
        self.cost.terms.append(term)
        self.cost.term_layers.append(self.layer)


def width_cost(spec, input_hw: Tuple[int, int], num_classes: Optional[int] = None,
               out_indices: Optional[Sequence[int]] = None, tie: Optional[str] = None, *, ends: bool = False,
               bottleneck: bool = False) -> WidthCost:
    """The MAdds polynomial of a derived spec in its width variables (see the module docstring).

    Args:
        spec: a derived spec of a family :func:`mmadapt.arch.widths.width_vars` supports.
        input_hw: (H, W) of the input image.
        num_classes: count the classifier (global pool + FC to ``num_classes``) as
            :func:`~mmadapt.cost.classifier_cost` does; None: the backbone only (e.g. a detector's).
        out_indices: as given to the backbone (stages after the last output are not counted).
        tie: who owns a zero-padded running width on a tie, ``'first'`` or ``'last'``; default
            ``'first'`` for ``shortcut: pad`` and ``'last'`` otherwise.
        ends: the stem and the head conv widths are variables too (the head only where it is built,
            i.e. ``out_indices`` is None or holds ``len(spec.stages)``).
        bottleneck: allow bottleneck ResNets (:func:`mmadapt.arch.widths.width_vars`).
    """
    spec = load_spec(spec)
    if tie is None:
        tie = 'first' if getattr(spec, 'shortcut', 'conv') == 'pad' else 'last'
    if tie not in TIES:
        raise ValueError(f'tie must be one of {list(TIES)}, got {tie!r}')
    n = len(spec.stages)
    last = n if out_indices is None else max(out_indices)
    num_stages = min(last + 1, n)
    wvars = width_vars(spec, num_stages, ends=ends, bottleneck=bottleneck, with_head=last == n)
    index = {v.name: i for i, v in enumerate(wvars)}
    sc = spec_cost(spec, input_hw, out_indices)
    cost = WidthCost(spec, wvars, tie=tie)
    builder = _Builder(cost)
    add = builder.add
    pad = _pad_mode(spec)

    def var(name: str, value: int) -> _Expr:
        return (index[name], value) if name in index else (None, value)

    stem_w = spec.stem['out_channels']
    if ends:
        running: _Expr = var('s0.out' if stem_tied(spec) else 'stem', stem_w)
        add(sc.stem_madds // stem_w, running)  # in_channels x kernel area x output pixels, per stem channel
    else:
        running = (None, stem_w)
        cost.const += sc.stem_madds
    for lc in sc.layers:
        info = lc.info
        block = info.candidates[0]
        s, j = info.stage, info.layer
        builder.layer = (s, j)
        cost.layer_const.setdefault((s, j), 0)
        hw_in = lc.in_hw[0] * lc.in_hw[1]
        st = info.stride
        hw_out = ((lc.in_hw[0] - 1) // st + 1) * ((lc.in_hw[1] - 1) // st + 1)
        stage_e = var(f's{s}.out', info.stage_out)
        if block.is_skip:
            cost.running.append(running[0])
            continue
        hidden = info.hidden(block, spec.block_type)
        h_e = var(f's{s}.b{j}.h', hidden)
        k2 = block.kernel * block.kernel
        if block.kind == 'resblock':
            conv_w = info.conv_out(block)
            c_e = var(f's{s}.b{j}.c', conv_w) if pad else stage_e
            if hidden > 0 and spec.block_type == 'bottleneck':
                add(hw_in, running, h_e)  # conv1: 1x1 at the input size
                add(k2 * hw_out, h_e, h_e)  # conv2: the block's kernel, carries the stride
                add(hw_out, h_e, c_e)  # conv3: 1x1
            elif hidden > 0:  # basic: conv1 (the block's kernel, carries the stride), conv2 3x3
                add(k2 * hw_out, running, h_e)
                add(9 * hw_out, h_e, c_e)
            if not info.has_shortcut():  # projection to the conv width: the running width resets
                add(hw_out, running, c_e)
                new = c_e
            elif pad and hidden > 0:
                wider = c_e[1] > running[1] if tie == 'first' else c_e[1] >= running[1]
                new = c_e if wider else running
            elif pad:
                new = running
            else:
                new = stage_e
        elif block.kind == 'mbconv':
            expand = block.hidden is not None or block.expansion != 1
            if hidden > 0:
                if expand:
                    add(hw_in, running, h_e)
                else:
                    h_e = running
                add(k2 * hw_out, h_e)
                add(hw_out, h_e, stage_e)
            new = stage_e
        elif block.kind == 'separable':
            c_e = var(f's{s}.b{j}.c', info.out_channels)
            add(k2 * hw_out, running)
            add(hw_out, running, c_e)
            new = c_e
        else:  # pragma: no cover - width_vars refused the family already
            raise ValueError(f'width_cost: unsupported block {block.token!r}')
        if new[1] != info.out_channels:  # a bypassed block keeps its input: trust the spec's width
            new = running if running[1] == info.out_channels else (None, info.out_channels)
        running = new
        cost.running.append(running[0])
    builder.layer = None
    if spec.head is not None and last == n:
        hh, hw_ = _last_hw(sc)
        head_e = var('head', spec.head['out_channels'])
        add(hh * hw_, running, head_e)
        running = head_e
    if num_classes is not None:
        add(num_classes, running)
    return cost


def _last_hw(sc) -> Tuple[int, int]:
    lc = sc.layers[-1]
    st = lc.info.stride
    return (lc.in_hw[0] - 1) // st + 1, (lc.in_hw[1] - 1) // st + 1
