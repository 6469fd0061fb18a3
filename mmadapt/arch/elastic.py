"""Sub-networks of an elastic (weight-sharing) network, as specs: validation and sampling.

An elastic network is built from a *max spec* (its largest network). A *sub-network* is any derived
spec of the same family whose every part fits inside the max spec, layer by layer:

* width: stem, hidden (``_h``), output (``_c`` or the stage's ``out_channels``) and head widths no
  larger than the max spec's; the sub-network runs the *leading* channels of every weight;
* depth: a stage keeps its leading layers (``len(blocks)`` no larger than the max stage); a
  residual layer whose body is removed is written ``_h0`` (``skip`` is accepted and rewritten so);
* kernel: no larger than the max kernel (the centre crop of it is run).

:func:`resolve_subnet` checks a sub-network against its max spec and returns it in canonical form;
:class:`ElasticSpace` draws sub-networks (max, min, uniformly random) from allowed widths, depths and
kernels, with a generator so that every DDP rank draws the same one. Nothing here knows modules.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .spec import ArchSpec, Block, LayerInfo, SpecError, load_spec, spec_from_dict
from .spec import _where as _spec_where


def _where(spec: ArchSpec, stage: Optional[int] = None, layer: Optional[int] = None) -> str:
    return _spec_where(spec.name, stage, layer, what='sub-network')


def _has_expand(block: Block) -> bool:
    return block.hidden is not None or block.expansion != 1


def _removed_token(max_block: Block, in_channels: int) -> str:
    """The canonical token of a removed (bypassed) layer: the max block with hidden width 0."""
    return Block(max_block.kind, kernel=max_block.kernel, expansion=max_block.expansion,
                 groups=max_block.groups, hidden=0, out=in_channels, se=max_block.se).token


def _check_conv_shortcuts(max_spec: ArchSpec) -> None:
    """Elastic networks are built from specs with projection shortcuts (``shortcut: conv``), and from
    mbv3 specs with NetAdaptV2's zero-padded residuals (``shortcut: pad``)."""
    if max_spec.shortcut != 'conv' and not (max_spec.family == 'mbv3' and max_spec.shortcut == 'pad'):
        raise SpecError(f"max spec {max_spec.name!r} has shortcut {max_spec.shortcut!r}; elastic networks "
                        "build resnet specs with shortcut 'conv' only (zero-padded shortcuts: build the "
                        'derived network with mmadapt.DerivedResNet)')


def resolve_subnet(max_spec: Union[str, Dict, ArchSpec], subnet: Union[str, Dict, ArchSpec],
                   num_stages: Optional[int] = None, with_head: bool = True) -> ArchSpec:
    """Check that ``subnet`` runs inside the elastic network of ``max_spec``; return it canonical.

    Args:
        max_spec: the elastic network's max spec.
        subnet: a derived spec (name, file, dict or spec).
        num_stages: stages the network builds (an elastic backbone with ``out_indices`` builds the
            leading stages only); default all.
        with_head: whether the network builds the head conv.
    Returns:
        The sub-network spec, ``skip`` layers rewritten as ``_h0`` layers of the max block.
    Raises:
        SpecError: naming the stage and layer (wider than the max, a larger kernel, a depthwise width
            that does not match its input, a stage with no layer, a missing projection shortcut...).
    """
    max_spec, sub = load_spec(max_spec), load_spec(subnet)
    where = _where(sub)
    _check_conv_shortcuts(max_spec)
    if not max_spec.is_derived:
        raise SpecError(f'max spec {max_spec.name!r} has searchable layers; an elastic network is built '
                        'from a derived spec (its largest network)')
    if not sub.is_derived:
        raise SpecError(f'{where}: has layers with several candidates; a sub-network is a derived spec')
    for field in ('family', 'block_type', 'act', 'in_channels', 'se', 'shortcut'):
        if getattr(sub, field) != getattr(max_spec, field):
            raise SpecError(f'{where}: {field} is {getattr(sub, field)!r}, the elastic network\'s max spec '
                            f'{max_spec.name!r} has {getattr(max_spec, field)!r}')
    n = len(max_spec.stages) if num_stages is None else num_stages
    if len(sub.stages) != len(max_spec.stages):
        raise SpecError(f'{where}: has {len(sub.stages)} stages, the max spec {len(max_spec.stages)}')
    for key in ('kernel', 'stride', 'pool'):
        if sub.stem.get(key) != max_spec.stem.get(key):
            raise SpecError(f'{where}: stem {key} is {sub.stem.get(key)!r}, the max spec has '
                            f'{max_spec.stem.get(key)!r} (only the stem width is elastic)')
    if sub.stem['out_channels'] > max_spec.stem['out_channels']:
        raise SpecError(f"{where}: stem width {sub.stem['out_channels']} is wider than the max "
                        f"{max_spec.stem['out_channels']}")
    max_layers = {(i.stage, i.layer): i for i in max_spec.layers()}
    d = None  # the canonical form, made only when a 'skip' is rewritten (this runs every training step)
    for s, (stage, max_stage) in enumerate(zip(sub.stages, max_spec.stages)):
        if s >= n:
            continue
        if stage.act != max_stage.act:
            raise SpecError(f'{_where(sub, s)}: activation {stage.act!r}, the max spec has {max_stage.act!r}')
        if (stage.stride, stage.dilation) != (max_stage.stride, max_stage.dilation):
            raise SpecError(f'{_where(sub, s)}: stride / dilation {stage.stride} / {stage.dilation} differ '
                            f'from the max spec ({max_stage.stride} / {max_stage.dilation})')
        if stage.depth > max_stage.depth:
            raise SpecError(f'{_where(sub, s)}: {stage.depth} layers, the max stage has {max_stage.depth} '
                            '(a sub-network keeps the leading layers of each stage)')
    for info in sub.layers():
        if info.stage >= n:
            continue
        mi: LayerInfo = max_layers[(info.stage, info.layer)]
        block, mb = info.candidates[0], mi.candidates[0]
        lw = _where(sub, info.stage, info.layer)
        if mb.is_skip:
            raise SpecError(f'{lw}: the max spec has a skip here; an elastic max spec has a block in every layer')
        if block.is_skip and mb.kind == 'separable':
            if info.first:
                raise SpecError(f"{lw}: 'skip' is not allowed in the first layer of a stage")
            continue  # a removed depthwise-separable layer: its input passes on
        if block.is_skip:
            if not info.has_shortcut():
                raise SpecError(f"{lw}: 'skip' needs a shortcut (stride 1, not the first layer of a stage)")
            d = sub.to_dict() if d is None else d
            d['stages'][info.stage]['blocks'][info.layer] = _removed_token(mb, info.in_channels)
            continue
        if block.kind != mb.kind:
            raise SpecError(f'{lw}: {block.token!r} is a {block.kind} block, the max spec has {mb.token!r}')
        if block.kernel > mb.kernel:
            raise SpecError(f'{lw}: kernel {block.kernel} is larger than the max kernel {mb.kernel} '
                            f'({mb.token!r})')
        if block.se != mb.se:
            raise SpecError(f"{lw}: {block.token!r} {'has' if block.se else 'has no'} squeeze-excitation, the max "
                            f'block {mb.token!r} {"has" if mb.se else "has none"} (SE is not elastic)')
        if block.bypass != mb.bypass:
            raise SpecError(f'{lw}: bypass limit {block.bypass} differs from the max block {mb.token!r} '
                            '(T is fixed per layer; the conv width _c is elastic)')
        if (block.bypass is not None or info.padded_mbconv) and info.conv_out(block) > mi.conv_out(mb):
            raise SpecError(f'{lw}: conv width {info.conv_out(block)} is wider than the max {mi.conv_out(mb)}')
        if block.kind == 'resblock' and block.groups != mb.groups:
            raise SpecError(f'{lw}: {block.groups} groups, the max spec has {mb.groups} (groups are not elastic)')
        if info.out_channels > mi.out_channels:
            raise SpecError(f'{lw}: output width {info.out_channels} is wider than the max {mi.out_channels}')
        hidden = info.hidden(block, sub.block_type)
        max_hidden = mi.hidden(mb, max_spec.block_type)
        if hidden > max_hidden:
            raise SpecError(f'{lw}: hidden width {hidden} is wider than the max {max_hidden} ({mb.token!r})')
        if hidden > 0 and block.kind == 'mbconv' and _has_expand(block) != _has_expand(mb):
            if _has_expand(mb):
                raise SpecError(f'{lw}: {block.token!r} has no expansion conv but the max block {mb.token!r} '
                                f'has one; write the hidden width explicitly, e.g. '
                                f"'k{block.kernel}e{mb.expansion}_h{hidden}'")
            raise SpecError(f'{lw}: depthwise width {hidden} does not match its input {info.in_channels}; '
                            f'the max block {mb.token!r} has no expansion conv, so its depthwise conv is as '
                            'wide as its input')
        if block.kind == 'mbconv' and info.depthwise(block, sub.block_type) > mi.depthwise(mb, max_spec.block_type):
            raise SpecError(f'{lw}: depthwise width {info.depthwise(block, sub.block_type)} is wider than the max '
                            f'depthwise conv {mi.depthwise(mb, max_spec.block_type)} ({mb.token!r})')
        if sub.se_channels(info, block) > max_spec.se_channels(mi, mb):
            raise SpecError(f'{lw}: squeeze width {sub.se_channels(info, block)} is wider than the max '
                            f'{max_spec.se_channels(mi, mb)} ({mb.token!r})')
        if block.kind == 'resblock' and not info.has_shortcut() and mi.has_shortcut():
            raise SpecError(f'{lw}: needs a projection shortcut ({info.in_channels} -> {info.out_channels} '
                            'channels) that the max network does not have; keep the input and output widths '
                            'of this layer equal')
    if with_head and max_spec.head is not None and sub.head is not None and n == len(max_spec.stages):
        if sub.head['out_channels'] > max_spec.head['out_channels']:
            raise SpecError(f"{where}: head width {sub.head['out_channels']} is wider than the max "
                            f"{max_spec.head['out_channels']}")
    if (sub.head is None) != (max_spec.head is None):
        raise SpecError(f'{where}: ' + ('has no head conv but the max spec has one' if sub.head is None
                                        else 'has a head conv but the max spec has none'))
    return sub if d is None else spec_from_dict(d)


def _round_width(width: float, divisor: int, minimum: int) -> int:
    return max(minimum, int(math.floor(width / divisor + 0.5)) * divisor)


class ElasticSpace:
    """The sub-networks a method searches or trains: allowed widths, depths and kernels.

    Args:
        max_spec: the elastic network's max spec.
        width_ratios: allowed fractions of every elastic width (stem, hidden, output, head), e.g.
            ``(0.25, 0.5, 0.75, 1.0)``; a width is ``round(ratio * max / divisor) * divisor``.
        per: ``'layer'`` (every hidden and output width drawn on its own: DNA, NetAdaptV2) or
            ``'stage'`` (one ratio per stage for all its widths: DS-Net).
        depths: allowed numbers of leading layers kept per stage: ``None`` (full depth), an int
            ``m`` (from ``min(m, max depth)`` to the max depth), or one list of ints per stage.
        kernels: allowed kernels of the searchable conv (each no larger than the layer's max
            kernel), or ``None`` (max kernels only).
        divisor: widths are multiples of it (at least ``divisor``; 1 for exact ratios).
        elastic_stem / elastic_head: whether the stem / head widths are elastic.
    """

    def __init__(self, max_spec, width_ratios: Sequence[float] = (1.0, ), per: str = 'layer',
                 depths=None, kernels: Optional[Sequence[int]] = None, divisor: int = 8,
                 elastic_stem: bool = False, elastic_head: bool = False):
        self.max_spec = load_spec(max_spec)
        _check_conv_shortcuts(self.max_spec)
        if per not in ('layer', 'stage'):
            raise ValueError(f"per must be 'layer' or 'stage', got {per!r}")
        ratios = sorted(set(float(r) for r in width_ratios))
        if not ratios or ratios[0] < 0 or ratios[-1] > 1 or ratios[-1] == 0:
            raise ValueError(f'width_ratios must be in [0, 1] with a positive one, got {list(width_ratios)}')
        if not isinstance(divisor, int) or divisor < 1:
            raise ValueError(f'divisor must be a positive integer, got {divisor!r}')
        self.width_ratios, self.per, self.divisor = ratios, per, divisor
        for name, value in (('elastic_stem', elastic_stem), ('elastic_head', elastic_head)):
            if not isinstance(value, bool):
                raise ValueError(f'ElasticSpace {name} must be True or False, got {value!r}')
        self.elastic_stem, self.elastic_head = elastic_stem, elastic_head
        self.kernels = None if kernels is None else sorted(set(int(k) for k in kernels))
        max_depths = [st.depth for st in self.max_spec.stages]
        if depths is None:
            self.depths = [[m] for m in max_depths]
        elif isinstance(depths, int):
            self.depths = [list(range(min(depths, m), m + 1)) for m in max_depths]
        else:
            if len(depths) != len(max_depths):
                raise ValueError(f'depths has {len(depths)} entries, the max spec {len(max_depths)} stages')
            self.depths = []
            for s, (allowed, m) in enumerate(zip(depths, max_depths)):
                allowed = sorted(set(int(a) for a in allowed))
                if not allowed or allowed[0] < 1 or allowed[-1] > m:
                    raise ValueError(f'depths of stage {s} must be in 1..{m}, got {allowed}')
                self.depths.append(allowed)

    def width(self, max_width: int, ratio: float, allow_zero: bool = False) -> int:
        """The width of a ratio of ``max_width`` (never above ``max_width``). Ratio 0 gives 0 where
        ``allow_zero`` (a layer that can be removed: a residual body, a bypassed conv), else the
        smallest positive width."""
        if ratio == 0 and allow_zero:
            return 0
        return min(max_width, _round_width(ratio * max_width, self.divisor, min(self.divisor, max_width)))

    def _kernel_choices(self, max_kernel: int) -> List[int]:
        if self.kernels is None:
            return [max_kernel]
        return [k for k in self.kernels if k <= max_kernel] or [max_kernel]

    def _build(self, pick) -> ArchSpec:
        """A sub-network where ``pick(kind, options, where)`` chooses among sorted options; ``where``
        names the choice: ``('stem', )``, ``('head', )``, ``(stage, )`` (depth, stage ratio) or
        ``(stage, layer, 'kernel' | 'out' | 'hidden')``."""
        m = self.max_spec
        d = m.to_dict()
        d['name'] = f'{m.name}_sub'
        if self.elastic_stem:
            d['stem']['out_channels'] = self.width(m.stem['out_channels'], pick('width', self.width_ratios, ('stem', )))
        infos = m.layers()
        in_ch = d['stem']['out_channels']
        for s, stage in enumerate(m.stages):
            depth = pick('depth', self.depths[s], (s, ))
            stage_ratio = pick('width', self.width_ratios, (s, )) if self.per == 'stage' else None

            def ratio(where):
                return stage_ratio if stage_ratio is not None else pick('width', self.width_ratios, where)

            blocks = []
            for info in [i for i in infos if i.stage == s][:depth]:
                b = info.candidates[0]
                kernel = pick('kernel', self._kernel_choices(b.kernel), (s, info.layer, 'kernel'))
                if b.bypass is not None:  # channel-level bypass: the conv width may reach 0
                    out = self.width(info.conv_out(b), ratio((s, info.layer, 'out')), allow_zero=True)
                else:
                    out = self.width(info.out_channels, ratio((s, info.layer, 'out')))
                    if info.first and info.stride == 1:
                        out = self._keep_shortcut(info, in_ch, out)
                if b.kind == 'separable' or (b.kind == 'mbconv' and not _has_expand(b)):
                    hidden = None  # the depthwise conv is as wide as its input
                else:
                    hidden = self.width(info.hidden(b, m.block_type), ratio((s, info.layer, 'hidden')),
                                        allow_zero=info.has_shortcut() or b.bypass is not None)
                    if b.bypass is not None and (hidden == 0 or out == 0):
                        hidden, out = 0, 0
                if b.kind == 'mbconv' and b.bypass is not None and out == 0:
                    hidden = 0  # a bypassed inverted residual without expansion: its body removed
                tok = Block(b.kind, kernel=kernel, expansion=b.expansion, groups=b.groups, hidden=hidden, out=out,
                            se=b.se, bypass=b.bypass)
                blocks.append(tok.token)
                # the layer's output: the conv width, or max(M, min(C, T)) with a channel-level bypass
                in_ch = out if b.bypass is None else max(out, min(in_ch, b.bypass))
            d['stages'][s]['blocks'] = blocks
            d['stages'][s]['out_channels'] = in_ch
        if m.head is not None and self.elastic_head:
            d['head']['out_channels'] = self.width(m.head['out_channels'], pick('width', self.width_ratios, ('head', )))
        return resolve_subnet(m, spec_from_dict(d))

    def _keep_shortcut(self, info: LayerInfo, in_ch: int, out: int) -> int:
        """Sampled sub-networks keep the max network's shortcuts: a stride-1 first layer has one
        exactly when its input and output widths are equal, so its widths stay equal where the
        max layer has one, and different where it has none (per-sample sub-networks of one batch
        must agree on every shortcut)."""
        if info.has_shortcut():
            return in_ch
        if out != in_ch:
            return out
        options = sorted({self.width(info.out_channels, r) for r in self.width_ratios} - {in_ch})
        larger = [o for o in options if o > in_ch]
        if larger or options:
            return larger[0] if larger else options[-1]
        raise SpecError(f'stage {info.stage} layer 0: every allowed output width equals the input width '
                        f'{in_ch}, which would add a shortcut the max network does not have')

    def max(self) -> ArchSpec:
        """The largest sub-network of the space (the max spec with explicit widths)."""
        return self._build(lambda kind, options, where: options[-1])

    def min(self) -> ArchSpec:
        """The smallest sub-network of the space."""
        return self._build(lambda kind, options, where: options[0])

    def at_stage_ratios(self, ratios: Sequence[float]) -> ArchSpec:
        """The sub-network with every width of stage ``s`` at ``ratios[s]`` of its max (any ratio in
        (0, 1], not only ``width_ratios``; the stem and head at their max unless elastic, then at the
        first and last stage's ratio), full depth, max kernels. DS-Net's routes are such networks."""
        if len(ratios) != len(self.max_spec.stages):
            raise ValueError(f'{len(ratios)} stage ratios for a spec of {len(self.max_spec.stages)} stages')
        for s, r in enumerate(ratios):
            if not 0 < float(r) <= 1:
                raise ValueError(f'the width ratio of stage {s} must be in (0, 1], got {r!r}')
        ratios = [float(r) for r in ratios]
        m = self.max_spec
        in_ch = self.width(m.stem['out_channels'], ratios[0]) if self.elastic_stem else m.stem['out_channels']
        first = {i.stage: i for i in m.layers() if i.layer == 0}
        for s, st in enumerate(m.stages):
            out = self.width(st.out_channels, ratios[s])
            info = first.get(s)
            if info is not None and info.stride == 1 and not info.has_shortcut() and out == in_ch:
                # the max network projects here; at a width equal to its input the sub-network would
                # get an identity shortcut instead: take the next width up (DS-Net's stage ratios
                # are approximate anyway, App. A)
                out = min(st.out_channels, out + self.divisor)
                ratios[s] = out / st.out_channels
            in_ch = out
        stage = {'s': -1}
        stem_pending = {'v': self.elastic_stem}

        def pick(kind, options, where):
            if kind == 'depth':
                stage['s'] += 1
                return options[-1]
            if kind == 'kernel':
                return options[-1]
            if stem_pending['v']:
                stem_pending['v'] = False
                return float(ratios[0])
            return float(ratios[min(max(stage['s'], 0), len(ratios) - 1)])
        sub = self._build(pick)
        if m.family not in ('mbv2', 'mbv3'):
            return sub
        # an inverted residual's hidden width follows its own input width (expansion x input, DS-Net's
        # DS-MBV2 / DS-EffNet blocks): the first block of a stage keeps the hidden width of the
        # previous stage's ratio, the others take their stage's
        d = sub.to_dict()
        max_infos = {(i.stage, i.layer): i for i in m.layers()}
        for info in sub.layers():
            if info.stage >= len(d['stages']):
                continue
            b = info.candidates[0]
            if b.kind != 'mbconv' or not _has_expand(b) or b.is_skip:
                continue
            top = max_infos[(info.stage, info.layer)].hidden(max_infos[(info.stage, info.layer)].candidates[0],
                                                             m.block_type)
            hidden = min(top, _round_width(info.in_channels * b.expansion, self.divisor, self.divisor))
            d['stages'][info.stage]['blocks'][info.layer] = Block(
                b.kind, kernel=b.kernel, expansion=b.expansion, groups=b.groups, hidden=hidden, out=b.out, se=b.se,
                bypass=b.bypass).token
        return resolve_subnet(m, spec_from_dict(d))

    def sample(self, generator: Optional[torch.Generator] = None) -> ArchSpec:
        """A sub-network with every choice drawn uniformly, from ``generator`` (the same seed on
        every DDP rank draws the same sub-network)."""
        def pick(kind, options, where):
            return options[int(torch.randint(len(options), (1, ), generator=generator))]
        return self._build(pick)

    def choices(self) -> List[Tuple[str, Tuple, list]]:
        """Every choice of the space in the order :meth:`build` reads them: ``(kind, where,
        options)`` (``kind``: ``'width'`` (ratios), ``'kernel'`` or ``'depth'``; ``where`` as in
        :meth:`_build`; options sorted, smallest first). The list is the same for every
        sub-network when the depths are fixed (``depths=None``), which :meth:`build` needs."""
        out = []

        def pick(kind, options, where):
            out.append((kind, where, list(options)))
            return options[-1]
        self._build(pick)
        return out

    def build(self, indices: Sequence[int]) -> ArchSpec:
        """The sub-network of one option index per choice of :meth:`choices` (a "genome")."""
        if any(len(d) > 1 for d in self.depths):
            raise ValueError('ElasticSpace.build needs fixed depths (depths=None); this space searches depths')
        indices = list(indices)
        pos = iter(range(len(indices) + 1))

        def pick(kind, options, where):
            i = next(pos)
            if i >= len(indices):
                raise ValueError(f'{len(indices)} choice indices for a space of more choices')
            if not 0 <= indices[i] < len(options):
                raise ValueError(f'choice {i} ({kind} at {where}): index {indices[i]} outside 0..{len(options) - 1}')
            return options[indices[i]]
        spec = self._build(pick)
        if next(pos) != len(indices):
            raise ValueError(f'{len(indices)} choice indices for a space of fewer choices')
        return spec
