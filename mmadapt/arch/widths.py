"""Width variables of a derived spec: the channel counts a width search changes, read and written by name.

A width search (Network Adjustment, and any method that moves channel counts layer by layer) sees a
derived network as a vector of widths ``c``. Which widths are free depends on how the family joins
its layers:

* ``resnet`` with zero-padded shortcuts (``shortcut: pad`` or ``pad_proj``, basic blocks): two
  widths per block, the first conv's (``hidden``, written ``_h``) and the second conv's (``conv``,
  written ``_c``). A block's output is the running maximum of the widths before it (the narrower path
  is zero-padded), so every conv width is free.
* ``resnet`` with projection shortcuts (``shortcut: conv``, basic blocks): the first conv of every
  block (``hidden``) and the width of every stage (``stage``: the blocks of a stage share it through
  their identity shortcuts).
* ``mbv2``: the hidden (depthwise) width of every block that has an expansion conv (``hidden``) and
  the width of every stage (``stage``). A block without an expansion conv (``k3e1``) takes its input's
  width and has no free hidden width.
* ``mbv1``: the output width of every depthwise-separable block (``conv``); nothing is tied.

Bottleneck ResNets are refused by default (their hidden width is both the input and the output of
the middle conv, so the MAdds are not bilinear in the widths); with ``bottleneck=True`` they are
allowed: one variable per block for its hidden width (the output of conv1 and of conv2, the spec's
``_h``; conv3 gives the stage width, or ``_c`` under a zero-padding shortcut rule), and the MAdds
then hold a square term ``coef * h * h`` (:mod:`mmadapt.cost.width_terms`). Squeeze-excitation
(``mbv3``, whose SE width is a rounded function of the hidden width), grouped convs, channel-level
bypasses and block-level ``_c`` on a family whose stage widths are tied are always refused with a
:class:`~mmadapt.arch.SpecError` naming the layer.

By default the stem, the head conv and the classifier stay fixed. Variables are named
``s{stage}.b{layer}.h`` / ``s{stage}.b{layer}.c`` / ``s{stage}.out``.

**Ends** (``ends=True``): the stem width (``stem``, first in the list) and the head conv width
(``head``, last; only when the spec has a head conv and the head is built, see ``with_head``) are
variables too; the classifier's width stays fixed. The stem is *tied* where a free stem would change
the structure of the network: on a ``resnet`` spec with projection shortcuts (``shortcut: conv``)
whose first layer has an identity shortcut (stride 1 and the stem as wide as stage 0, e.g.
ResNet-18's stem and ``layer1`` of 64), the stem has no variable of its own: it is ``s0.out``, and
:func:`set_widths` writes the ``s0.out`` value to the stem as well, so the identity shortcut stays
(moving only one of them would add a projection conv). Everywhere else the stem is free: a bottleneck
ResNet-50 (stem 64, ``layer1`` 256) already has a projection in its first block, a zero-padded
ResNet pads the narrower path, an MBConv block without a residual add needs no projection (a
``k3e1`` first block of ``mbv2`` has no expansion conv: its depthwise conv runs at the stem width),
and ``mbv1`` has no shortcut.
"""
import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

from .spec import ArchSpec, SpecError, _where, load_spec

# the ends of a network, variables only with ``ends=True``
END_KINDS = ('stem', 'head')
WIDTH_KINDS = ('hidden', 'conv', 'stage') + END_KINDS


@dataclass(frozen=True)
class WidthVar:
    """One free width of a derived spec."""
    name: str
    kind: str  # 'hidden' (first conv / depthwise width), 'conv' (a block's conv path output), 'stage', 'stem', 'head'
    stage: Optional[int]  # None for the stem and the head
    layer: Optional[int]  # None for a stage width, the stem and the head
    value: int


def _pad_mode(spec: ArchSpec) -> bool:
    return spec.family == 'resnet' and getattr(spec, 'shortcut', 'conv') != 'conv'


def stem_tied(spec: Union[str, dict, ArchSpec]) -> bool:
    """Whether the stem width is tied to ``s0.out`` under ``ends=True`` (see the module docstring): a
    ``resnet`` spec with projection shortcuts whose first layer has an identity shortcut."""
    spec = load_spec(spec)
    if spec.family != 'resnet' or _pad_mode(spec) or not spec.stages:
        return False
    return spec.layers()[0].has_shortcut()


def width_vars(spec: Union[str, dict, ArchSpec], num_stages: Optional[int] = None, *, ends: bool = False,
               bottleneck: bool = False, with_head: Optional[bool] = None) -> List[WidthVar]:
    """The free widths of a derived spec, in network order (see the module docstring).

    Args:
        spec: a derived spec (name, path, dict or spec).
        num_stages: only the first ``num_stages`` stages (a backbone built up to an earlier output);
            default: all.
        ends: the stem and the head conv widths are variables too (``stem`` first, ``head`` last; a
            tied stem is ``s0.out``, see the module docstring).
        bottleneck: allow bottleneck ResNets (one hidden width per block; the MAdds are then quadratic
            in it).
        with_head: whether the head conv is built (only read with ``ends``; a spec without a head conv
            has none). Default: when ``num_stages`` is None (the whole network, as a classifier builds
            it); a backbone built for ``out_indices`` has it when the head's index, ``len(spec.stages)``,
            is among them.
    """
    spec = load_spec(spec)
    if not spec.is_derived:
        raise SpecError(f'spec {spec.name!r} has searchable layers; width variables are defined for a derived '
                        'spec (derive one first)')
    if spec.family == 'mbv3':
        raise SpecError(f'spec {spec.name!r}: width search is not defined for mbv3 specs (the squeeze-excitation '
                        'width is a rounded function of the hidden width, so the MAdds are not bilinear in the '
                        'widths); allowed families: resnet (basic blocks), mbv2, mbv1')
    if spec.family == 'resnet' and spec.block_type != 'basic' and not bottleneck:
        raise SpecError(f'spec {spec.name!r}: width search is defined for basic-block ResNets; a bottleneck\'s '
                        'hidden width is both the input and the output of its middle conv (the MAdds are not '
                        'bilinear in it)')
    pad = _pad_mode(spec)
    last = len(spec.stages) if num_stages is None else num_stages
    out: List[WidthVar] = []
    if ends and not stem_tied(spec):
        out.append(WidthVar('stem', 'stem', None, None, spec.stem['out_channels']))
    for s, stage in enumerate(spec.stages[:last]):
        tied = spec.family in ('mbv2', ) or (spec.family == 'resnet' and not pad)
        for j, (block, ) in enumerate(stage.layers):
            where = _where(spec.name, s, j)
            if block.is_skip:
                continue
            if block.bypass is not None:
                raise SpecError(f'{where}: {block.token!r}: width search does not handle channel-level bypasses')
            if block.kind == 'mbconv' and block.depthwise is not None:
                raise SpecError(f"{where}: {block.token!r}: width search does not handle depthwise widths '_d'")
            if block.kind == 'resblock' and block.groups != 1:
                raise SpecError(f'{where}: {block.token!r}: width search needs groups 1 (a grouped conv\'s MAdds '
                                'are not bilinear in its widths)')
            if tied and block.out is not None and block.out != stage.out_channels:
                raise SpecError(f"{where}: {block.token!r}: a block width '_c' other than its stage's "
                                f'{stage.out_channels} on a {spec.family} spec whose stage widths are tied'
                                + (" (use shortcut: pad_proj for free block widths)" if spec.family == 'resnet'
                                   else ''))
            info = next(i for i in spec.layers() if i.stage == s and i.layer == j)
            if block.kind in ('mbconv', 'resblock'):
                hidden = info.hidden(block, spec.block_type)
                has_expand = block.kind == 'resblock' or block.hidden is not None or block.expansion != 1
                if hidden > 0 and has_expand:
                    out.append(WidthVar(f's{s}.b{j}.h', 'hidden', s, j, hidden))
                if hidden > 0 and block.kind == 'resblock' and pad:
                    out.append(WidthVar(f's{s}.b{j}.c', 'conv', s, j, info.conv_out(block)))
            elif block.kind == 'separable':
                out.append(WidthVar(f's{s}.b{j}.c', 'conv', s, j, info.out_channels))
        if tied:
            out.append(WidthVar(f's{s}.out', 'stage', s, None, stage.out_channels))
    if with_head is None:
        with_head = num_stages is None
    if ends and with_head and spec.head is not None:
        out.append(WidthVar('head', 'head', None, None, spec.head['out_channels']))
    return out


def get_widths(spec: Union[str, dict, ArchSpec], num_stages: Optional[int] = None, *, ends: bool = False,
               bottleneck: bool = False, with_head: Optional[bool] = None) -> List[int]:
    """The values of :func:`width_vars`, in order."""
    return [v.value for v in width_vars(spec, num_stages, ends=ends, bottleneck=bottleneck, with_head=with_head)]


def set_widths(spec: Union[str, dict, ArchSpec], values: Union[Sequence[int], Dict[str, int]],
               num_stages: Optional[int] = None, name: Optional[str] = None, *, ends: bool = False,
               bottleneck: bool = False, with_head: Optional[bool] = None) -> ArchSpec:
    """A copy of ``spec`` with its width variables set to ``values``.

    Args:
        values: one integer per variable of :func:`width_vars` (in order), or a mapping from variable
            names to integers (the others keep their value).
        name: name of the new spec (default: the spec's).
        ends, bottleneck, with_head: as for :func:`width_vars`. With ``ends`` and a tied stem the
            stem takes the ``s0.out`` value.
    Raises:
        SpecError: a wrong number of values, an unknown name or a width below 1.
    """
    spec = load_spec(spec)
    wvars = width_vars(spec, num_stages, ends=ends, bottleneck=bottleneck, with_head=with_head)
    if isinstance(values, dict):
        known = {v.name for v in wvars}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SpecError(f'spec {spec.name!r}: unknown width variable(s) {unknown}; the spec has {sorted(known)}')
        new = {v.name: int(values.get(v.name, v.value)) for v in wvars}
    else:
        values = list(values)
        if len(values) != len(wvars):
            raise SpecError(f'spec {spec.name!r} has {len(wvars)} width variables, got {len(values)} values')
        new = {v.name: int(x) for v, x in zip(wvars, values)}
    bad = {k: x for k, x in new.items() if x < 1}
    if bad:
        raise SpecError(f'spec {spec.name!r}: widths must be at least 1, got {bad}')
    d = spec.to_dict()
    stages = [dataclasses.replace(st, layers=list(st.layers)) for st in spec.stages]
    if ends and stem_tied(spec) and 's0.out' in new:
        d['stem']['out_channels'] = new['s0.out']
    for v in wvars:
        x = new[v.name]
        if v.kind in END_KINDS:
            d[v.kind]['out_channels'] = x
            continue
        if v.kind == 'stage':
            stages[v.stage].out_channels = x
            continue
        block = stages[v.stage].layers[v.layer][0]
        block = dataclasses.replace(block, hidden=x) if v.kind == 'hidden' else dataclasses.replace(block, out=x)
        stages[v.stage].layers[v.layer] = (block, )
    for s, st in enumerate(stages):
        d['stages'][s]['out_channels'] = st.out_channels
        d['stages'][s]['blocks'] = [cands[0].token for cands in st.layers]
    if name is not None:
        d['name'] = name
    return load_spec(d)
