"""Elastic backbones: one set of weights, stored at the max spec, shared by all its sub-networks.

An elastic backbone holds exactly the modules (and state-dict keys) of the derived backbone of its
*max spec*, so seeds load and remap into it as into that derived backbone. It runs any
sub-network (:mod:`mmadapt.arch.elastic`) without copying a weight:

* width: contiguous leading slices of conv, norm and linear weights (DS-Net Eq. 2), read as views;
  a conv takes the input width it is given and the output width of the sub-network;
* depth: the leading layers of each stage; a removed residual body (``_h0``) is the identity;
* kernel: the centre ``k x k`` crop of the max kernel (superkernel), with the padding of a ``k x k``
  conv, so the crop computes exactly what a ``k x k`` conv with those weights computes.

The sub-network spec is the only runtime state a method sets (:meth:`ElasticBackbone.set_subnet`).
What a method multiplies into the network (per-sample width masks, gates, attention) enters through
one door, :class:`ChannelModulation`: the backbone calls every installed modulation on the output of
each conv unit (after its activation) and of each block (after its shortcut). The backbones know
nothing of the methods.

Normalisation is the max network's: shared BN (whose statistics a method recalibrates per
sub-network, e.g. with ``mmadapt.BNRecalibrationHook``; the leading statistics are updated in place
in training mode) or GroupNorm with a fixed number of groups (every width must be divisible by it),
chosen by ``norm_cfg``. SyncBN is run as plain BN on each rank.

:meth:`ElasticBackbone.export_subnet` gives the derived spec and a state dict that loads with
``strict=True`` into the ``mmadapt.Derived*`` backbone of that spec, which computes exactly what the
elastic network computes at that sub-network (the slicing is :func:`mmadapt.remap.remap_state_dict`
with the leading-channel and centre-crop rules, the code that also grows networks).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.modules.batchnorm import _BatchNorm

from mmadapt.arch import ArchSpec, Block, LayerInfo, SpecError, load_spec, spec_from_dict
from mmadapt.arch.elastic import resolve_subnet
from mmadapt.registry import MODELS
from mmadapt.utils.config_values import config_bool
from .ops import DepthwiseSeparable, MBConv, ResBlock, channel_bypass, match_width
from .spec_backbone import SpecBackbone, derived_backbone_class


class ChannelModulation:
    """What a method multiplies into an elastic network's outputs. Subclass and override.

    ``unit(name, y)`` receives the output of the conv unit ``name`` (state-dict prefix, e.g.
    ``'stages.2.1.expand_conv'``, ``'stem'``, ``'head'``) after its activation; ``block(name, y)``
    the output of block ``name`` (``'stages.2.1'``) after its shortcut. Both return the modulated
    tensor (N, C, H, W) with the same shape. Install with :meth:`ElasticBackbone.add_modulation`.
    """

    def unit(self, name: str, y: torch.Tensor) -> torch.Tensor:
        return y

    def block(self, name: str, y: torch.Tensor) -> torch.Tensor:
        return y

    def bypass_kept(self, name: str) -> Optional[torch.Tensor]:
        """Per-sample conv widths (N,) of the channel-level bypass of block ``name`` (or of the depthwise
        conv ``'{block}.depthwise_conv'`` of an MBConv, ``_d``): image n takes its channels ``kept[n] <= j``
        from the bypass. ``None``: the sub-network's own width for all."""
        return None


def _width_mask(widths: torch.Tensor, channels: int, like: torch.Tensor) -> torch.Tensor:
    """(N, C, 1, 1) mask: 1 for channel c < widths[n], else 0."""
    c = torch.arange(channels, device=like.device)
    return (c[None, :] < widths.to(like.device)[:, None]).to(like.dtype)[:, :, None, None]


class SampleWidthMask(ChannelModulation):
    """Per-sample widths (NetAdaptV2's ordered dropout): image n keeps the leading ``w[n]`` channels.

    Args:
        units / blocks: name -> (N,) long tensor of the width each image keeps at that unit / block
            output. Names not listed are left as they are.
    """

    def __init__(self, units: Dict[str, torch.Tensor], blocks: Dict[str, torch.Tensor],
                 bypasses: Optional[Dict[str, torch.Tensor]] = None):
        self.units, self.blocks, self.bypasses = units, blocks, dict(bypasses or {})

    def _apply(self, table, name, y):
        w = table.get(name)
        if w is None:
            return y
        if w.numel() != y.shape[0]:
            raise ValueError(f'per-sample widths of {name!r} are set for {w.numel()} images, the batch has '
                             f'{y.shape[0]}; set the sub-networks for each batch')
        return y * _width_mask(w, y.shape[1], y)

    def unit(self, name, y):
        return self._apply(self.units, name, y)

    def block(self, name, y):
        return self._apply(self.blocks, name, y)

    def bypass_kept(self, name):
        return self.bypasses.get(name)


class ChannelScale(ChannelModulation):
    """Per-channel or per-group multipliers on unit outputs (DNA's gates, DS-Net's attention).

    ``scales[name]`` is a (G,) or (N, G) tensor; with G < C each value covers ``C // G`` leading
    channels of its group (the active width must be divisible by G). Gradients flow into the scales.
    """

    def __init__(self, scales: Optional[Dict[str, torch.Tensor]] = None, on: str = 'unit'):
        if on not in ('unit', 'block'):
            raise ValueError(f"on must be 'unit' or 'block', got {on!r}")
        self.scales = dict(scales or {})
        self.on = on

    def _apply(self, name, y):
        s = self.scales.get(name)
        if s is None:
            return y
        c = y.shape[1]
        g = s.shape[-1]
        if c % g:
            raise ValueError(f'{name}: {g} scale groups do not divide the active width {c}')
        if g != c:
            s = s.repeat_interleave(c // g, dim=-1)
        s = s.to(y.dtype)
        return y * (s[None, :, None, None] if s.dim() == 1 else s[:, :, None, None])

    def unit(self, name, y):
        return self._apply(name, y) if self.on == 'unit' else y

    def block(self, name, y):
        return self._apply(name, y) if self.on == 'block' else y


# -- functional slices of one conv unit (conv + norm + activation) ---------------------------------
def elastic_conv(conv: nn.Conv2d, x: torch.Tensor, out_channels: Optional[int],
                 kernel: Optional[int] = None, contiguous: bool = False) -> torch.Tensor:
    """Run the leading ``out_channels`` filters of ``conv`` on the channels of ``x``.

    A depthwise conv (groups == its channels) runs as many channels as ``x`` has; ``kernel`` crops
    the centre of the weights. The weights are views of the max weights, never copies, so
    gradients land in the shared parameters. With ``contiguous`` a view that is not contiguous (fewer
    input channels, a cropped kernel) is handed to the conv as a transient contiguous copy instead,
    for backends whose kernels are slow on strided weights (on this project's CPU the two are within
    noise of each other: ``benchmarks/elastic_costs.py`` prints both). Without autograd (inference)
    the slice is made once per (width, input width, kernel) as a contiguous tensor and kept until the
    weights change (their version or storage), so a sub-network run again and again costs what its
    standalone network costs (``benchmarks/dsnet_latency.py``).
    """
    params = conv._parameters  # read once: these run for every unit of every forward
    w, bias = params['weight'], params.get('bias')
    cin = x.shape[1]
    if not torch.is_grad_enabled():  # inference: the slice of these weights, made once and kept
        cache = conv.__dict__.setdefault('_slices', {})
        key = (out_channels, cin, kernel)
        hit = cache.get(key)
        stamp = (w._version, w.data_ptr()) + (() if bias is None else (bias._version, bias.data_ptr()))
        if hit is None or hit[0] != stamp:
            hit = (stamp, ) + _conv_slice(conv, w, bias, cin, out_channels, kernel, True)
            cache[key] = hit
        _, w, bias, k, groups = hit
    else:
        w, bias, k, groups = _conv_slice(conv, w, bias, cin, out_channels, kernel, contiguous)
    dilation = conv.dilation[0]
    return F.conv2d(x, w, bias, conv.stride, dilation * (k - 1) // 2, conv.dilation, groups)


def _conv_slice(conv, w, bias, cin, out_channels, kernel, contiguous):
    if conv.groups == 1:
        w, groups = w[:out_channels, :cin], 1
    elif conv.groups == conv.in_channels == conv.out_channels:
        w, groups = w[:cin], cin
    else:
        raise ValueError(f'elastic width of a grouped conv ({conv.groups} groups) is not defined')
    k = w.shape[-1]
    if kernel is not None and kernel != k:
        o = (k - kernel) // 2
        w, k = w[..., o:o + kernel, o:o + kernel], kernel
    if contiguous and not w.is_contiguous():
        w = w.contiguous()
    if bias is not None:
        bias = bias[:w.shape[0]]
    return w, bias, k, groups


def elastic_norm(norm: nn.Module, y: torch.Tensor) -> torch.Tensor:
    """Leading-channel slice of a BN (statistics updated in place in training mode) or GroupNorm.

    A BN in eval mode with a ``sample_stats`` attribute ``(mean, var)``, each (N, C_max), normalises
    image n with its own statistics; a GroupNorm with a ``sample_widths`` attribute (N,) normalises
    image n on its leading ``sample_widths[n]`` channels and zeroes the rest (DS-Net's masked
    forward, where each image has its route's statistics and widths).
    """
    c = y.shape[1]
    params = norm._parameters
    w, b = params.get('weight'), params.get('bias')
    w = None if w is None else w[:c]
    b = None if b is None else b[:c]
    if isinstance(norm, _BatchNorm):
        sample = norm.__dict__.get('sample_stats')
        if sample is not None and not norm.training:  # per-image statistics (N, C_max): see the docstring
            mean, var = sample
            y = (y - mean[:, :c, None, None]) * torch.rsqrt(var[:, :c, None, None] + norm.eps)
            return y if w is None else y * w[None, :, None, None] + b[None, :, None, None]
        buffers = norm._buffers
        rm, rv, tracked = buffers.get('running_mean'), buffers.get('running_var'), buffers.get('num_batches_tracked')
        training, momentum = norm.training, norm.momentum
        factor = 0.0 if momentum is None else momentum
        if training and norm.track_running_stats and tracked is not None:
            tracked.add_(1)
            if momentum is None:
                factor = 1.0 / float(tracked)
        stats = rm is not None and (not training or norm.track_running_stats)
        return F.batch_norm(y, rm[:c] if stats else None, rv[:c] if stats else None, w, b, training or rm is None,
                            factor, norm.eps)
    if isinstance(norm, nn.GroupNorm):
        widths = norm.__dict__.get('sample_widths')
        if widths is not None:  # per-image widths (N,): image n is normalised on its leading widths[n]
            out = torch.zeros_like(y)
            for v in torch.unique(widths).tolist():
                rows = (widths == v).nonzero()[:, 0]
                out[rows, :v] = F.group_norm(
                    y[rows, :v], norm.num_groups, None if w is None else w[:v], None if b is None else b[:v], norm.eps)
            return out
        if c % norm.num_groups:
            raise ValueError(f'GroupNorm with {norm.num_groups} groups cannot normalise {c} channels; '
                             'use elastic widths divisible by the number of groups')
        return F.group_norm(y, norm.num_groups, w, b, norm.eps)
    raise TypeError(f'elastic networks slice BN and GroupNorm, not {type(norm).__name__}')


class _Run:
    """One forward pass: runs units and blocks and applies the installed modulations."""

    def __init__(self, modulations: Sequence[ChannelModulation], contiguous: bool = False):
        self.modulations = modulations
        self.contiguous = contiguous

    def unit(self, name: str, unit: nn.Module, x: torch.Tensor, out_channels: Optional[int],
             kernel: Optional[int] = None, modulate: bool = True) -> torch.Tensor:
        modules = unit._modules  # a ConvModule: 'conv', its norm, 'activate'
        y = elastic_conv(modules['conv'], x, out_channels, kernel, self.contiguous)
        if unit.with_norm:
            y = elastic_norm(modules[unit.norm_name], y)
        if unit.with_activation:
            y = modules['activate'](y)
        return self.modulate(name, y) if self.modulations and modulate else y

    def bypass_kept(self, name: str) -> Optional[torch.Tensor]:
        """Per-sample conv widths (N,) of the bypass ``name`` from the installed modulations, else None."""
        for m in self.modulations:
            kept = m.bypass_kept(name)
            if kept is not None:
                return kept
        return None

    def modulate(self, name: str, y: torch.Tensor) -> torch.Tensor:
        for m in self.modulations:
            y = m.unit(name, y)
        return y

    def block(self, name: str, y: torch.Tensor) -> torch.Tensor:
        for m in self.modulations:
            y = m.block(name, y)
        return y

    def bypass(self, name: str, y: Optional[torch.Tensor], x: torch.Tensor, info: LayerInfo) -> torch.Tensor:
        """Channel-level bypass of a block: ``y`` (the conv path, ``conv_out`` channels, or ``None``)
        and the input channels ``conv_out <= j < min(C, T)`` of ``x``, as :func:`channel_bypass`
        does; with per-sample conv widths the bypass takes, image by image, the complement of them."""
        block = info.candidates[0]
        kept = None
        for m in self.modulations:
            kept = m.bypass_kept(name) if kept is None else kept
        m_out = info.conv_out(block)
        if kept is None:
            return channel_bypass(y, x, m_out, block.bypass, info.stride)
        z = channel_bypass(None, x, 0, block.bypass, info.stride)
        width = info.out_channels
        c = torch.arange(z.shape[1], device=z.device)
        z = z * (c[None, :] >= kept.to(z.device)[:, None]).to(z.dtype)[:, :, None, None]
        z = match_width(z, width)
        return z if y is None else z + match_width(y, width)


def _se(m, x: torch.Tensor, squeeze: int, run: _Run, name: str) -> torch.Tensor:
    """Squeeze-excitation on the channels of ``x`` with a ``squeeze``-wide bottleneck (leading slices)."""
    c = x.shape[1]
    s = x.mean((2, 3), keepdim=True)
    s = F.conv2d(s, m.conv_reduce.weight[:squeeze, :c], m.conv_reduce.bias[:squeeze])
    s = run.modulate(f'{name}.conv_reduce', m.act(s))
    s = F.conv2d(s, m.conv_expand.weight[:c, :squeeze], m.conv_expand.bias[:c])
    return x * m.gate(s)


def _separable(m: DepthwiseSeparable, info: LayerInfo, spec: ArchSpec, x: torch.Tensor, run: _Run, name: str):
    block = info.candidates[0]
    m_out = info.conv_out(block)
    y = None
    if m_out > 0:
        y = run.unit(f'{name}.depthwise_conv', m.depthwise_conv, x, None, block.kernel)
        y = run.unit(f'{name}.pointwise_conv', m.pointwise_conv, y, m_out)
    return y if block.bypass is None else run.bypass(name, y, x, info)


def _depthwise(m: MBConv, info: LayerInfo, spec: ArchSpec, y: torch.Tensor, run: _Run, name: str):
    """The depthwise conv of an MBConv on the hidden channels ``y``: its leading ``_d`` channels are
    computed, the others bypass it (subsampled by its stride); with per-sample depthwise widths
    (``bypass_kept``) image n takes the conv's channels below its own width and the bypass above."""
    block = info.candidates[0]
    unit = f'{name}.depthwise_conv'
    dw, hidden = info.depthwise(block, spec.block_type), y.shape[1]
    kept = run.bypass_kept(unit) if run.modulations else None
    if kept is None and dw == hidden:
        return run.unit(unit, m.depthwise_conv, y, None, block.kernel)
    if kept is None:
        z = run.unit(unit, m.depthwise_conv, y[:, :dw], None, block.kernel)
        return channel_bypass(z, y, dw, hidden, info.stride)
    z = run.unit(unit, m.depthwise_conv, y[:, :dw], None, block.kernel, modulate=False)
    bypassed = channel_bypass(None, y, 0, hidden, info.stride)
    c = torch.arange(hidden, device=y.device)
    conv = (c[None, :] < kept.to(y.device)[:, None])[:, :, None, None]
    return run.modulate(unit, torch.where(conv, match_width(z, hidden), bypassed))


def _mbconv(m: MBConv, info: LayerInfo, spec: ArchSpec, x: torch.Tensor, run: _Run, name: str):
    block = info.candidates[0]
    hidden = info.hidden(block, spec.block_type)
    if hidden == 0:
        return match_width(x, info.out_channels) if block.bypass is None else run.bypass(name, None, x, info)
    y = x if m.expand_conv is None else run.unit(f'{name}.expand_conv', m.expand_conv, x, hidden)
    y = _depthwise(m, info, spec, y, run, name)
    if m.se is not None:
        y = _se(m.se, y, spec.se_channels(info, block), run, f'{name}.se')
    y = run.unit(f'{name}.linear_conv', m.linear_conv, y, info.conv_out(block))
    if info.has_shortcut():  # zero-padded at the back where the widths differ ('shortcut: pad')
        y = match_width(y, info.out_channels) + match_width(x, info.out_channels)
    if block.bypass is not None:
        y = run.bypass(name, y, x, info)
    return y


def _resblock(m: ResBlock, info: LayerInfo, spec: ArchSpec, x: torch.Tensor, run: _Run, name: str):
    block = info.candidates[0]
    out = info.out_channels
    hidden = info.hidden(block, spec.block_type)
    if info.has_shortcut():
        identity = match_width(x, out)
    else:
        identity = run.unit(f'{name}.downsample', m.downsample, x, out)
    if hidden == 0:
        return identity
    if m.conv3 is None:
        y = run.unit(f'{name}.conv1', m.conv1, x, hidden, block.kernel)
        y = run.unit(f'{name}.conv2', m.conv2, y, out)
    else:
        y = run.unit(f'{name}.conv1', m.conv1, x, hidden)
        y = run.unit(f'{name}.conv2', m.conv2, y, hidden, block.kernel)
        y = run.unit(f'{name}.conv3', m.conv3, y, out)
    return m.act(y + identity)


BLOCK_FORWARDS = {MBConv: _mbconv, ResBlock: _resblock, DepthwiseSeparable: _separable}
"""Block class -> ``f(module, sub_info, sub_spec, x, run, name)``: the sub-network forward of a
block. A new block type adds its entry here (see :func:`register_elastic_block`)."""


def register_elastic_block(cls: type, forward) -> None:
    """Teach elastic backbones a new block class (its sub-network forward)."""
    BLOCK_FORWARDS[cls] = forward


class ElasticBackbone(SpecBackbone):
    """Weight-sharing backbone of a max spec, runnable at any sub-network (see the module docstring).

    Args:
        spec: the max spec (a derived spec).
        pad_outputs: zero-pad every output to the max width, so that a task head built for the max
            network reads any sub-network (zero channels contribute nothing to the head's first
            conv, whose export is its leading input slice). ``False`` returns the sub-network's
            own widths.
        Other arguments: as :class:`SpecBackbone`.
    """
    contiguous_slices = False  # see elastic_conv: True hands the convs contiguous copies of the slices
    padded_shortcuts = False  # resnet specs with shortcut 'conv' only

    def __init__(self, spec=None, out_indices: Sequence[int] = None, frozen_stages: int = -1,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None, norm_eval: bool = False,
                 pad_outputs: bool = True, init_cfg=None):
        super().__init__(spec=spec, out_indices=out_indices, frozen_stages=frozen_stages, norm_cfg=norm_cfg,
                         act_cfg=act_cfg, norm_eval=norm_eval, init_cfg=init_cfg)
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and 1 < m.groups and not (m.groups == m.in_channels == m.out_channels):
                raise ValueError(f'{type(self).__name__}: the max spec {self.spec.name!r} has a grouped conv '
                                 f'({m.groups} groups); elastic widths need plain or depthwise convs')
        self.pad_outputs = config_bool(pad_outputs, f'{type(self).__name__} pad_outputs')
        self._modulations: List[ChannelModulation] = []
        self._derived_kwargs = dict(out_indices=self.out_indices, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.set_subnet(None)

    # -- the sub-network ------------------------------------------------------------------------
    def _build_stage(self, infos) -> nn.Module:
        return nn.Sequential(*[self._build_block(info.candidates[0], info) for info in infos])

    def set_subnet(self, subnet: Union[str, Dict, ArchSpec, None], cache: bool = False) -> ArchSpec:
        """Run ``subnet`` from now on (``None``: the max network). Returns it in canonical form.

        With ``cache`` the resolved form is kept, keyed by the ``subnet`` object, and reused when the
        same object is set again (a method that switches among a fixed set of sub-networks every
        forward, e.g. DS-Net's routes, sets the same spec objects with ``cache=True``).

        Raises:
            SpecError: naming stage and layer, when ``subnet`` does not fit the max spec.
        """
        resolved = self.__dict__.setdefault('_resolved', {})
        hit = resolved.get(id(subnet)) if cache else None
        if hit is not None and hit[0] is subnet:
            self._subnet, self._sub_layers = hit[1], hit[2]
            return hit[1]
        num_stages = len(self.stages)
        sub = self.spec if subnet is None else resolve_subnet(self.spec, subnet, num_stages,
                                                              with_head=self.head is not None)
        self._subnet = sub
        self._sub_layers = [[i for i in sub.layers() if i.stage == s] for s in range(num_stages)]
        if cache:
            resolved[id(subnet)] = (subnet, sub, self._sub_layers)
        return sub

    def subnet(self) -> ArchSpec:
        """The active sub-network spec (a copy)."""
        return self._subnet.copy()

    # -- modulation -----------------------------------------------------------------------------
    def add_modulation(self, modulation: ChannelModulation) -> ChannelModulation:
        """Install a modulation (applied after the ones already installed); returns it."""
        if not isinstance(modulation, ChannelModulation):
            raise TypeError(f'a modulation is a mmadapt ChannelModulation, got {type(modulation).__name__}')
        self._modulations.append(modulation)
        return modulation

    def remove_modulation(self, modulation: ChannelModulation) -> None:
        self._modulations = [m for m in self._modulations if m is not modulation]

    def clear_modulations(self) -> None:
        self._modulations = []

    @property
    def modulations(self) -> Tuple[ChannelModulation, ...]:
        return tuple(self._modulations)

    def set_sample_subnets(self, subnets: Sequence) -> SampleWidthMask:
        """Per-sample sub-networks: image n of the next batches runs ``subnets[n]``.

        The backbone runs the union (widest of each width, deepest of each stage) and installs a
        :class:`SampleWidthMask` that zeroes, image by image, the channels its own sub-network does
        not have (a layer it does not have becomes a removed body, which needs a shortcut). All
        sub-networks must share kernels. In eval mode the batch's output equals, row by row, each
        sub-network run alone. Returns the installed mask (remove it with :meth:`remove_modulation`
        or :meth:`clear_sample_subnets`).
        """
        subs = [resolve_subnet(self.spec, s, len(self.stages), with_head=self.head is not None)
                for s in subnets]
        if not subs:
            raise ValueError('set_sample_subnets needs at least one sub-network')
        union = _union_spec(self.spec, subs)
        shortcuts = {(i.stage, i.layer): i.has_shortcut() for i in union.layers()}
        for n, sub in enumerate(subs):
            for info in sub.layers():
                if info.stage < len(self.stages) and info.has_shortcut() != shortcuts[(info.stage, info.layer)]:
                    raise SpecError(f'per-sample sub-network {n}: stage {info.stage} layer {info.layer} '
                                    f"{'has a' if info.has_shortcut() else 'has no'} shortcut, the batch's union "
                                    f"{'has one' if shortcuts[(info.stage, info.layer)] else 'has none'}; "
                                    "sub-networks of one batch must agree on every shortcut (a stride-1 "
                                    'first layer has one exactly when its input and output widths are equal)')
        self.set_subnet(union)
        widths = [output_widths(s, len(self.stages)) for s in subs]
        units, blocks, bypasses = {}, {}, {}
        for table, key in ((units, 0), (blocks, 1), (bypasses, 2)):
            names = set().union(*(w[key] for w in widths))
            for name in names:
                table[name] = torch.tensor([w[key][name] if name in w[key] else _absent(w, key, name) for w in widths])
        for name in [n for n in bypasses if n.endswith('.depthwise_conv')]:
            if torch.equal(bypasses[name], units[name]):  # no image bypasses this depthwise conv
                del bypasses[name]
        _prune_masks(union, units, blocks, len(self.stages))
        self.clear_sample_subnets()
        mask = SampleWidthMask(units, blocks, bypasses)
        self._modulations.insert(0, mask)
        return mask

    def clear_sample_subnets(self) -> None:
        """Remove the per-sample mask (the active sub-network stays)."""
        self._modulations = [m for m in self._modulations if not isinstance(m, SampleWidthMask)]

    # -- forward --------------------------------------------------------------------------------
    # A method that runs the network piece by piece (DS-Net's gates decide the width of a stage from
    # its input) uses start_run / run_stem / run_layer / finish; forward is exactly these in order.
    def start_run(self) -> _Run:
        """A forward pass's state (the installed modulations); hand it to the ``run_*`` methods."""
        return _Run(self._modulations, self.contiguous_slices)

    def sub_layers(self, stage: int) -> List[LayerInfo]:
        """The layers of ``stage`` in the active sub-network (resolved, with their widths)."""
        return self._sub_layers[stage]

    def run_stem(self, x: torch.Tensor, run: _Run) -> torch.Tensor:
        x = run.unit('stem', self.stem, x, self._subnet.stem['out_channels'])
        return x if self.stem_pool is None else self.stem_pool(x)

    def run_layer(self, stage: int, info: LayerInfo, x: torch.Tensor, run: _Run) -> torch.Tensor:
        """Layer ``info`` (one of :meth:`sub_layers`) of ``stage`` at the active sub-network."""
        if info.candidates[0].is_skip:  # a removed layer of a block without shortcut (mbv1)
            return x
        module = self.stages[stage][info.layer]
        fwd = BLOCK_FORWARDS.get(type(module))
        if fwd is None:
            raise TypeError(f'no elastic forward for {type(module).__name__}; register one '
                            'with mmadapt.models.backbones.elastic.register_elastic_block')
        name = f'stages.{stage}.{info.layer}'
        return run.block(name, fwd(module, info, self._subnet, x, run, name))

    def finish(self, outs: List[torch.Tensor], x: torch.Tensor, run: _Run) -> Tuple[torch.Tensor, ...]:
        """The outputs: ``outs`` (the out_indices stages' outputs), the head on ``x``, padding."""
        outs = list(outs)
        if self.head is not None:
            outs.append(run.unit('head', self.head, x, self._subnet.head['out_channels']))
        if self.pad_outputs:
            outs = [match_width(o, c) for o, c in zip(outs, self.out_channels)]
        return tuple(outs)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        run = self.start_run()
        x = self.run_stem(x, run)
        outs = []
        for s in range(len(self.stages)):
            for info in self._sub_layers[s]:
                x = self.run_layer(s, info, x, run)
            if s in self.out_indices:
                outs.append(x)
        return self.finish(outs, x, run)

    # -- export ---------------------------------------------------------------------------------
    def derived_config(self, subnet=None) -> dict:
        """Config of the derived backbone of ``subnet`` (default: the active one)."""
        sub = self._subnet if subnet is None else self.check_subnet(subnet)
        return dict(type=f'mmadapt.{derived_backbone_class(self.family).__name__}', spec=sub.to_dict(),
                    **self._derived_kwargs)

    def check_subnet(self, subnet) -> ArchSpec:
        """``subnet`` checked and canonical, without making it active."""
        return resolve_subnet(self.spec, subnet, len(self.stages), with_head=self.head is not None)

    def export_subnet(self, subnet=None) -> Tuple[ArchSpec, Dict[str, torch.Tensor]]:
        """The derived spec and state dict of ``subnet`` (default: the active sub-network).

        The state dict loads with ``strict=True`` into ``MODELS.build(self.derived_config(subnet))``,
        which then computes exactly what this network computes at that sub-network (eval mode).
        """
        from mmadapt.remap import remap_state_dict
        sub = self._subnet if subnet is None else self.check_subnet(subnet)
        template = MODELS.build(dict(self.derived_config(sub), init_cfg=[])).state_dict()
        state, _ = remap_state_dict(self.spec, self.state_dict(), sub, template, 'fna')
        return sub, {k: v.detach().clone() for k, v in state.items()}


def _union_spec(max_spec: ArchSpec, subs: List[ArchSpec]) -> ArchSpec:
    """The widest of each width and the deepest of each stage over ``subs`` (same kernels)."""
    d = max_spec.to_dict()
    d['name'] = 'union'
    d['stem']['out_channels'] = max(s.stem['out_channels'] for s in subs)
    if d.get('head') is not None:
        d['head']['out_channels'] = max(s.head['out_channels'] for s in subs)
    layer_sets = [{(i.stage, i.layer): i for i in s.layers()} for s in subs]
    max_blocks = {(i.stage, i.layer): i.candidates[0] for i in max_spec.layers()}
    for st, stage in enumerate(max_spec.stages):
        depth = max(s.stages[st].depth for s in subs)
        blocks = []
        for j in range(depth):
            present = [(ls[(st, j)], s) for ls, s in zip(layer_sets, subs) if (st, j) in ls]
            kernels = {i.candidates[0].kernel for i, s in present if i.hidden(i.candidates[0], s.block_type) > 0}
            if len(kernels) > 1:
                raise SpecError(f'stage {st} layer {j}: per-sample sub-networks must share kernels, got '
                                f'{sorted(kernels)}')
            real = [(i, s) for i, s in present if not i.candidates[0].is_skip]
            if not real:
                blocks.append('skip')
                continue
            b0 = real[0][0].candidates[0]
            kernel = kernels.pop() if kernels else b0.kernel
            hidden = max(i.hidden(i.candidates[0], s.block_type) for i, s in real)
            # a sub-network without this layer passes its stage's last width through it
            passing = [ls[(st, s.stages[st].depth - 1)].out_channels for ls, s in zip(layer_sets, subs)
                       if (st, j) not in ls]
            if b0.bypass is not None:
                out = max(i.conv_out(i.candidates[0]) for i, _ in real)
            elif b0.kind == 'mbconv' and max_spec.shortcut == 'pad':  # '_c' is the conv path, the output max(M, C)
                out = max(i.conv_out(i.candidates[0]) for i, _ in real) or None
            else:
                out = max([i.out_channels for i, _ in present] + passing)
            depthwise = squeeze = None
            if b0.kind == 'mbconv':  # the widest depthwise conv and squeeze width where one is explicit
                if any(i.candidates[0].depthwise is not None for i, _ in real):
                    depthwise = max(i.depthwise(i.candidates[0], s.block_type) for i, s in real) or None
                if any(i.candidates[0].squeeze is not None for i, _ in real):
                    squeeze = max(s.se_channels(i, i.candidates[0]) for i, s in real) or None
            mb = max_blocks[(st, j)]  # a block without expansion conv in the max network has none in the union
            if b0.kind == 'separable' or (b0.kind == 'mbconv' and hidden > 0 and
                                          not (mb.hidden is not None or mb.expansion != 1)):
                hidden = None
            blocks.append(Block(b0.kind, kernel=kernel, expansion=b0.expansion, groups=b0.groups, hidden=hidden,
                                out=out, se=b0.se, bypass=b0.bypass, depthwise=depthwise, squeeze=squeeze).token)
        d['stages'][st]['blocks'] = blocks
    return spec_from_dict(d)


def _prune_masks(union: ArchSpec, units: Dict[str, torch.Tensor], blocks: Dict[str, torch.Tensor],
                 num_stages: int) -> None:
    """Drop the masks that another mask makes redundant (each costs a pass over a feature map, forward
    and backward): an expansion conv feeds only a depthwise conv, whose output is masked; the last
    conv of a block with a shortcut is masked again with the block's output when their widths agree
    image by image; a block without shortcut or bypass outputs its last conv's masked output."""
    for info in union.layers():
        if info.stage >= num_stages or info.candidates[0].is_skip:
            continue
        name, block = f'stages.{info.stage}.{info.layer}', info.candidates[0]
        units.pop(f'{name}.expand_conv', None)
        last = next((f'{name}.{u}' for u in ('linear_conv', 'conv3', 'pointwise_conv', 'conv2')
                     if f'{name}.{u}' in units), None)
        if last is None or block.bypass is not None or name not in blocks:
            continue
        if info.has_shortcut() and torch.equal(units[last], blocks[name]):
            del units[last]
        elif not info.has_shortcut() and block.kind != 'resblock' and torch.equal(units[last], blocks[name]):
            del blocks[name]


def output_widths(sub: ArchSpec, num_stages: int):
    """(unit name -> output width, block name -> output width, block name -> conv width of its
    channel-level bypass, and ``'{block}.depthwise_conv'`` -> the channels an MBConv's depthwise conv
    computes) of a sub-network; a removed body's units have width 0."""
    units = {'stem': sub.stem['out_channels']}
    blocks, bypasses = {}, {}
    for info in sub.layers():
        if info.stage >= num_stages:
            continue
        name = f'stages.{info.stage}.{info.layer}'
        block = info.candidates[0]
        blocks[name] = info.out_channels
        if block.is_skip:
            continue
        hidden, conv_out = info.hidden(block, sub.block_type), info.conv_out(block)
        if block.bypass is not None:
            bypasses[name] = conv_out
        last = conv_out if hidden > 0 else 0
        if block.kind == 'separable':
            names = {'depthwise_conv': info.in_channels if conv_out else 0, 'pointwise_conv': conv_out}
        elif block.kind == 'mbconv':
            names = {'expand_conv': hidden, 'depthwise_conv': hidden, 'linear_conv': last,
                     'se.conv_reduce': sub.se_channels(info, block)}
            # the depthwise conv computes its leading '_d' channels, the others bypass it
            bypasses[f'{name}.depthwise_conv'] = info.depthwise(block, sub.block_type)
        elif sub.block_type == 'basic':
            names = {'conv1': hidden, 'conv2': last, 'downsample': conv_out}
        else:
            names = {'conv1': hidden, 'conv2': hidden, 'conv3': last, 'downsample': conv_out}
        units.update({f'{name}.{unit}': w for unit, w in names.items()})
    if sub.head is not None:
        units['head'] = sub.head['out_channels']
    return units, blocks, bypasses


def _absent(widths, key, name) -> int:
    """Width of a unit / block a sub-network does not have: 0 for a unit; for a block (a layer the
    sub-network does not have, run as a removed body) the width of its input."""
    if key != 1:
        return 0
    s, j = (int(v) for v in name.split('.')[1:3])
    blocks = widths[1]
    for jj in range(j - 1, -1, -1):
        if f'stages.{s}.{jj}' in blocks:
            return blocks[f'stages.{s}.{jj}']
    raise SpecError(f'{name}: a per-sample sub-network lacks this layer and the layers before it in its stage')


@MODELS.register_module()
class ElasticMobileNetV2(ElasticBackbone):
    """Elastic MobileNetV2-like backbone (``mbv2`` max spec; default MobileNetV2 1.0).

    Example:
        >>> net = ElasticMobileNetV2(out_indices=(6, ), pad_outputs=False)
        >>> _ = net.set_subnet(ElasticSpace(net.spec, (0.5, 1.0)).min())
    """
    family = 'mbv2'


@MODELS.register_module()
class ElasticResNet(ElasticBackbone):
    """Elastic ResNet (``resnet`` max spec with groups 1; default ResNet-50)."""
    family = 'resnet'


GROW_INITS = ('identity', 'random')


def grow_elastic(backbone: ElasticBackbone, spec, init: str = 'identity', seed: int = 0) -> ElasticBackbone:
    """A larger elastic backbone of max spec ``spec`` that carries every weight of ``backbone`` over.

    DNA grows its search space between rounds (a channel group per layer, a layer per stage). The
    old weights are remapped into the new max network by :func:`mmadapt.remap.remap_state_dict`
    (leading channels, centred kernels, positional layers). New parts are initialised as ``init``:

    * ``'identity'``: the new network computes the old function on the old channels. New output
      channels of a conv (and their norm) are freshly initialised, the weights that read new input
      channels are zero (so gradients still reach both), a larger kernel holds the old one in its
      centre with zeros around, and a new layer is a Net2DeeperNet identity block (its last norm's
      scale is zero; it needs a shortcut).
    * ``'random'``: every new element is freshly initialised (``init_cfg`` of the backbone).

    Args:
        backbone: the elastic backbone to grow.
        spec: the new max spec; the old max spec must be one of its sub-networks.
        seed: seed of the fresh initialisation.
    Raises:
        SpecError: when the old max spec is not a sub-network of ``spec`` (naming stage and layer).
    """
    from mmadapt.remap import remap_state_dict
    if init not in GROW_INITS:
        raise ValueError(f'init must be one of {GROW_INITS}, got {init!r}')
    spec = load_spec(spec)
    resolve_subnet(spec, backbone.spec)  # every old part fits in the new network
    kwargs = dict(out_indices=backbone.out_indices, frozen_stages=backbone.frozen_stages,
                  norm_cfg=backbone.norm_cfg, act_cfg=backbone.act_cfg, norm_eval=backbone.norm_eval,
                  pad_outputs=backbone.pad_outputs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        new = type(backbone)(spec=spec, **kwargs)
        new.init_weights()
    fresh = {k: v.clone() for k, v in new.state_dict().items()}
    old = backbone.state_dict()
    strategy = 'net2net_depth' if init == 'identity' else 'fna'
    state, _ = remap_state_dict(backbone.spec, old, spec, new.state_dict(), strategy)
    for key, value in state.items():
        if key not in old:
            if init == 'random':
                state[key] = fresh[key]
            continue
        if key.endswith('num_batches_tracked'):
            continue
        o = old[key].shape[0]
        value[o:] = fresh[key][o:]  # new output channels / norm channels: fresh
        if init == 'random' and value.dim() > 1:
            i = old[key].shape[1]
            value[:o, i:] = fresh[key][:o, i:]
            k_old, k_new = old[key].shape[-1], value.shape[-1]
            if k_new > k_old:  # the ring around a grown kernel
                ring = torch.ones_like(value[:o, :i], dtype=torch.bool)
                off = (k_new - k_old) // 2
                ring[..., off:off + k_old, off:off + k_old] = False
                value[:o, :i][ring] = fresh[key][:o, :i][ring]
    new.load_state_dict(state, strict=True)
    new.set_subnet(None)
    return new


@MODELS.register_module()
class ElasticMobileNetV1(ElasticBackbone):
    """Elastic MobileNetV1 (``mbv1`` max spec; default MobileNetV1 1.0). Layers with a channel-level
    bypass (``_b{T}``) may reach conv width 0 (NetAdaptV2's depth through CBC)."""
    family = 'mbv1'


@MODELS.register_module()
class ElasticMobileNetV3(ElasticBackbone):
    """Elastic MobileNetV3 / EfficientNet (``mbv3`` max spec; default MobileNetV3-Large). The
    squeeze-excitation of a block runs at the squeeze width the spec's SE rule gives its hidden (or
    input) width, or at its explicit ``_se{n}``, on the leading slices of its two 1x1 convs. A
    depthwise width ``_d`` runs the leading filters of the max depthwise conv (per sample too);
    max specs with NetAdaptV2's zero-padded residuals (``shortcut: pad``) are built as well."""
    family = 'mbv3'
    padded_shortcuts = True
