"""Remapping of whole backbones, driven by the layer correspondence of two specs (FNA++ Sec. 3.1, 3.2).

One function covers the three uses of the paper:

* seed -> super-net: every candidate of a layer is remapped from the same seed layer (``skip``
  takes nothing);
* super-net -> target ("RemapSuper", Sec. 3.2.3): the target's block in each layer is the super-net
  candidate with the same token, so it is collected as it is;
* seed -> target (the original FNA, "Remap").

State dicts use the names of mmadapt's spec backbones: ``stem.*``, ``stages.{s}.{j}.*`` (derived)
or ``stages.{s}.{j}.candidates.{c}.*`` (super) and ``head.*``. Checkpoints in other formats pass
through :mod:`mmadapt.remap.adapters` first.

A block is remapped conv by conv (:mod:`mmadapt.remap.convs`: MBConv with its squeeze-excitation,
MobileNetV1's depthwise-separable block, ResNet blocks), each conv on the widths it reads and
writes: the layer's input and output widths keep their leading channels (Eq. 2, 3), a block's
hidden width and a squeeze-excitation's squeeze width each get their own map from the width rule
(Eq. 2, 3 or Sec. 5.4; a squeeze has no BN, so rule ``'bn'`` keeps its leading channels). The
squeeze-excitation's convs remap weight and bias; a new channel gets zero weights and bias.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Tuple, Union

import torch

from mmadapt.arch import ArchSpec, Block, LayerInfo, load_spec
from .tensor import (DEPTH_RULES, KERNEL_RULES, WIDTH_RULES, ChannelMap, gather_channels, leading_map,
                     reference_vector, remap_bn, remap_conv, width_map)
from .convs import BlockDesc, block_convs

PRESETS = {
    # name -> (width rule, kernel rule, depth rule); 'random' remaps nothing (the control)
    'fna': ('fna', 'fna', 'fna'),
    'bn': ('bn', 'fna', 'fna'),
    'std': ('std', 'fna', 'fna'),
    'l1': ('l1', 'fna', 'fna'),
    'dilate': ('fna', 'dilate', 'fna'),
    'net2net': ('net2net', 'fna', 'net2net'),
    'net2net_width': ('net2net', 'fna', 'fna'),
    'net2net_depth': ('fna', 'fna', 'net2net'),
}


@dataclass
class Strategy:
    """How to remap on each level. Build with :func:`resolve_strategy` from a name or a dict."""
    width: str = 'fna'
    kernel: str = 'fna'
    depth: str = 'fna'
    random: bool = False
    net2net_noise: float = 1e-3  # std of the weights of new Net2DeeperNet blocks ("slight noises")
    seed: int = 0  # of the Net2WiderNet channel draws


def resolve_strategy(strategy: Union[str, dict, Strategy, None]) -> Strategy:
    """``'fna'``, ``'bn'``, ``'std'``, ``'l1'``, ``'dilate'``, ``'net2net'``, ``'net2net_width'``,
    ``'net2net_depth'``, ``'random'``, or ``dict(width=..., kernel=..., depth=...)``."""
    if isinstance(strategy, Strategy):
        return strategy
    if strategy is None:
        return Strategy()
    if isinstance(strategy, str):
        if strategy == 'random':
            return Strategy(random=True)
        if strategy not in PRESETS:
            raise ValueError(f'unknown remapping strategy {strategy!r}; allowed: '
                             f"{sorted(PRESETS) + ['random']} or dict(width=, kernel=, depth=)")
        w, k, d = PRESETS[strategy]
        return Strategy(width=w, kernel=k, depth=d)
    if isinstance(strategy, dict):
        allowed = {'width': WIDTH_RULES, 'kernel': KERNEL_RULES, 'depth': DEPTH_RULES}
        for key, value in strategy.items():
            if key in ('net2net_noise', 'seed'):
                continue
            if key not in allowed:
                raise ValueError(f'unknown remapping level {key!r}; allowed: {sorted(allowed)}')
            if value not in allowed[key]:
                raise ValueError(f'unknown {key} rule {value!r}; allowed: {list(allowed[key])}')
        return Strategy(**strategy)
    raise ValueError(f'a remapping strategy is a name or a dict, got {strategy!r}')


@dataclass
class RemapReport:
    """What a remapping did, parameter by parameter of the target.

    Attributes:
        remapped: target keys that received (remapped) seed values.
        unfilled: target keys that received nothing and keep their initialisation.
        unused: source keys that no target parameter was remapped from.
        sources: target layer ``'stages.s.j[.candidates.c]'`` -> the source block it came from.
        notes: anything a user should know (fallbacks, missing units).
    """
    remapped: List[str] = field(default_factory=list)
    unfilled: List[str] = field(default_factory=list)
    unused: List[str] = field(default_factory=list)
    sources: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    seed_numel: int = 0
    total_numel: int = 0

    @property
    def share_from_source(self) -> float:
        """Share of the target's weight and BN elements that hold source values (not zero fill,
        not initialisation; architecture parameters and BN batch counters excluded)."""
        return self.seed_numel / self.total_numel if self.total_numel else 0.0

    def summary(self, max_keys: int = 20) -> str:
        lines = [f'remapped {len(self.remapped)} tensors ({self.share_from_source:.1%} of the target elements '
                 'hold source values), '
                 f'{len(self.unfilled)} target tensors received nothing, {len(self.unused)} source tensors '
                 'were not used']
        for title, keys in (('received nothing', self.unfilled), ('not used', self.unused)):
            if keys:
                shown = ', '.join(keys[:max_keys]) + (f', ... ({len(keys) - max_keys} more)'
                                                     if len(keys) > max_keys else '')
                lines.append(f'{title}: {shown}')
        lines.extend(f'note: {n}' for n in self.notes)
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        return dict(remapped=self.remapped, unfilled=self.unfilled, unused=self.unused, sources=self.sources,
                    notes=self.notes, seed_numel=self.seed_numel, total_numel=self.total_numel,
                    share_from_source=self.share_from_source)


def _not_weight(key: str) -> bool:
    return key.startswith('arch_params.') or key.endswith('num_batches_tracked')


def _sub(state: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _split_unit(sub: Dict[str, torch.Tensor], unit: str) -> Tuple[Dict, Dict]:
    """(conv entries, norm entries) of a ConvModule named ``unit`` ('' for the module itself)."""
    p = f'{unit}.' if unit else ''
    conv = {k[len(p) + 5:]: v for k, v in sub.items() if k.startswith(p + 'conv.')}
    norm = {}
    for k, v in sub.items():
        if k.startswith(p) and not k.startswith(p + 'conv.'):
            rest = k[len(p):]
            if '.' in rest:
                norm_name, param = rest.split('.', 1)
                norm.setdefault(norm_name, {})[param] = v
    return conv, norm


class _Remapper:

    def __init__(self, src_spec: ArchSpec, src_state, dst_spec: ArchSpec, dst_state, strategy: Strategy):
        self.src_spec, self.dst_spec = src_spec, dst_spec
        self.src = dict(src_state)
        self.dst = {k: v.clone() for k, v in dst_state.items()}
        self.strategy = strategy
        self.report = RemapReport()
        self.used = set()
        self.done = set()
        self.seed_numel = 0
        self.gen = torch.Generator().manual_seed(strategy.seed)
        self.src_super = any('.candidates.' in k for k in self.src)
        self.dst_super = any('.candidates.' in k for k in self.dst)

    # -- helpers ----------------------------------------------------------------------------------
    def _prefix(self, super_naming: bool, s: int, j: int, c: int) -> str:
        return f'stages.{s}.{j}.candidates.{c}.' if super_naming else f'stages.{s}.{j}.'

    def _set(self, key: str, value: torch.Tensor, src_keys) -> None:
        target = self.dst[key]
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(f'remapping produced {key} of shape {tuple(value.shape)}, the target has '
                             f'{tuple(target.shape)}')
        self.dst[key] = value.to(target.dtype)
        self.done.add(key)
        self.used.update(src_keys)

    def _remap_weight(self, src_key, dst_key, src_groups, dst_groups, out_map, in_map) -> None:
        """Remap one conv weight on both widths, kernel and groups."""
        weight, shape = self.src[src_key], self.dst[dst_key].shape
        self._set(dst_key, remap_conv(weight, src_groups, shape, dst_groups, out_map, in_map, self.strategy.kernel),
                  [src_key])
        # the same remapping of ones counts the elements that hold seed values
        plain = lambda m: ChannelMap(m.index)  # noqa: E731
        ones = remap_conv(torch.ones_like(weight), src_groups, shape, dst_groups, plain(out_map), plain(in_map),
                          self.strategy.kernel)
        self.seed_numel += int((ones != 0).sum())

    def _remap_bias(self, src_key, dst_key, out_map) -> None:
        self._set(dst_key, gather_channels(self.src[src_key], 0, out_map), [src_key])
        self.seed_numel += int((out_map.index >= 0).sum())

    def _remap_unit(self, src_prefix, dst_prefix, unit, src_groups, dst_groups, out_map, in_map):
        """A ``ConvModule`` (conv, then its norm) named ``unit`` ('' for the prefix itself)."""
        src_conv, src_norm = _split_unit(self.src, src_prefix + unit if unit else src_prefix[:-1])
        dst_conv, dst_norm = _split_unit(self.dst, dst_prefix + unit if unit else dst_prefix[:-1])
        base_s = f'{src_prefix}{unit}.' if unit else src_prefix
        base_d = f'{dst_prefix}{unit}.' if unit else dst_prefix
        if 'weight' in dst_conv and 'weight' in src_conv:
            self._remap_weight(base_s + 'conv.weight', base_d + 'conv.weight', src_groups, dst_groups, out_map,
                               in_map)
            if 'bias' in dst_conv and 'bias' in src_conv:
                self._remap_bias(base_s + 'conv.bias', base_d + 'conv.bias', out_map)
        for norm_name, params in dst_norm.items():
            if norm_name in src_norm:
                src_params = src_norm[norm_name]
                remapped = remap_bn({k: v for k, v in src_params.items() if k in params}, out_map)
                for k, v in remapped.items():
                    self._set(f'{base_d}{norm_name}.{k}', v, [f'{base_s}{norm_name}.{k}'])
                    if k != 'num_batches_tracked':
                        self.seed_numel += int((out_map.index >= 0).sum())

    def _remap_bare(self, src_name, dst_name, src_groups, dst_groups, out_map, in_map):
        """A plain ``nn.Conv2d`` with bias and no norm (a squeeze-excitation's): weight and bias."""
        for param in ('weight', 'bias'):
            src_key, dst_key = f'{src_name}.{param}', f'{dst_name}.{param}'
            if dst_key not in self.dst or src_key not in self.src:
                continue
            if param == 'weight':
                self._remap_weight(src_key, dst_key, src_groups, dst_groups, out_map, in_map)
            else:
                self._remap_bias(src_key, dst_key, out_map)

    # -- levels -----------------------------------------------------------------------------------
    def run(self) -> Tuple[Dict[str, torch.Tensor], RemapReport]:
        if self.strategy.random:
            self.report.notes.append("strategy 'random': nothing remapped (the control)")
        else:
            self._stem_and_head()
            for s in range(len(self.dst_spec.stages)):
                self._stage(s)
        rep = self.report
        counted = [k for k in self.dst if not _not_weight(k)]
        rep.remapped = sorted(self.done)
        rep.unfilled = sorted(k for k in self.dst if k not in self.done and not k.startswith('arch_params.'))
        if any(k.startswith('arch_params.') for k in self.dst):
            rep.notes.append('architecture parameters are not remapped (they start uniform)')
        rep.unused = sorted(k for k in self.src if k not in self.used and not k.startswith('arch_params.'))
        rep.total_numel = sum(self.dst[k].numel() for k in counted)
        rep.seed_numel = self.seed_numel
        return self.dst, rep

    def _stem_and_head(self):
        src_stem, dst_stem = self.src_spec.stem, self.dst_spec.stem
        if src_stem['kernel'] != dst_stem['kernel'] or src_stem['stride'] != dst_stem['stride']:
            self.report.notes.append(f'stem differs ({src_stem} -> {dst_stem}); remapped on width and kernel')
        in_map = leading_map(self.src_spec.in_channels, self.dst_spec.in_channels)
        out_map = leading_map(src_stem['out_channels'], dst_stem['out_channels'])
        self._remap_unit('stem.', 'stem.', '', 1, 1, out_map, in_map)
        if self.dst_spec.head is not None and self.src_spec.head is not None and \
                any(k.startswith('head.') for k in self.dst):
            in_map = leading_map(self.src_spec.stage_out_channels()[-1], self.dst_spec.stage_out_channels()[-1])
            out_map = leading_map(self.src_spec.head['out_channels'], self.dst_spec.head['out_channels'])
            self._remap_unit('head.', 'head.', '', 1, 1, out_map, in_map)

    def _stage(self, s: int):
        if s >= len(self.src_spec.stages):
            self.report.notes.append(f'stage {s}: no source stage')
            return
        src_layers = [i for i in self.src_spec.layers() if i.stage == s]
        dst_layers = [i for i in self.dst_spec.layers() if i.stage == s]
        # Depth mapping (Eq. 1). W_n are the layers that hold parameters: a skip is not one of them, on
        # either side, so the n-th layer with a block of the target takes the n-th layer with a block
        # of the source (k3e6-skip-k5e6-k7e3 and k3e6-k5e6-k7e3-skip get the same weights). A super-net
        # source is the exception: its layers correspond to the target's by position (each target
        # block is the candidate of the same layer, Sec. 3.2.3), skips included.
        src_real = [i for i in src_layers if any(not b.is_skip for b in i.candidates)]
        if self.src_super:
            src_real, rank = src_layers, {i.layer: i.layer for i in dst_layers}
        else:
            holding = [i.layer for i in dst_layers if any(not b.is_skip for b in i.candidates)]
            rank = {layer: n for n, layer in enumerate(holding)}
        for info in dst_layers:
            if info.layer not in rank:
                continue  # a skip-only layer: nothing to remap
            if not any(k.startswith(f'stages.{s}.{info.layer}.') for k in self.dst):
                continue  # not built (after the last output)
            if not src_real:
                self.report.notes.append(f'stage {s}: the source stage has no blocks')
                return
            n = rank[info.layer]
            new_layer = n >= len(src_real)
            src_info = src_real[min(n, len(src_real) - 1)]
            for c, block in enumerate(info.candidates):
                if block.is_skip:
                    continue
                dst_prefix = self._prefix(self.dst_super, s, info.layer, c)
                if not any(k.startswith(dst_prefix) for k in self.dst):
                    continue
                if new_layer and self.strategy.depth == 'net2net' and info.has_shortcut():
                    self._net2deeper(dst_prefix, BlockDesc(self.dst_spec, info, block))
                    self.report.sources[dst_prefix[:-1]] = 'Net2DeeperNet identity block'
                    continue
                src_c = self._source_candidate(src_info, block)
                src_prefix = self._prefix(self.src_super, s, src_info.layer, src_c)
                self.report.sources[dst_prefix[:-1]] = f'{src_prefix[:-1]} ({src_info.candidates[src_c].token})'
                self._block(src_prefix, BlockDesc(self.src_spec, src_info, src_info.candidates[src_c]),
                            dst_prefix, BlockDesc(self.dst_spec, info, block))

    def _source_candidate(self, src_info: LayerInfo, block: Block) -> int:
        tokens = [b.token for b in src_info.candidates]
        if block.token in tokens:
            return tokens.index(block.token)
        for c, b in enumerate(src_info.candidates):
            if not b.is_skip:
                if len(src_info.candidates) > 1:
                    self.report.notes.append(
                        f'stage {src_info.stage} layer {src_info.layer}: no source candidate {block.token!r}; '
                        f'remapped from {b.token!r}')
                return c
        raise AssertionError('layer without blocks')

    def _block(self, src_prefix, src: BlockDesc, dst_prefix, dst: BlockDesc):
        if src.block.kind != dst.block.kind:
            raise ValueError(f'cannot remap a {src.block.kind} block into a {dst.block.kind} block')
        src_convs, dst_convs = block_convs(src), block_convs(dst)
        needed = {name for u in dst_convs.values() for name in (u.out, u.inp)}
        maps = {'in': leading_map(src.info.in_channels, dst.info.in_channels),
                'out': leading_map(src.widths()['out'], dst.widths()['out'])}
        if 'hidden' in needed or 'dw' in needed:
            maps['hidden'] = self._hidden_map(src_prefix, src, dst)
        if 'dw' in needed:
            # a depthwise filter acts on its own hidden channel: the depthwise channels follow the hidden
            # map; a hidden channel that bypasses the source's depthwise conv has no filter to take
            index = maps['hidden'].index[:dst.depthwise].clone()
            index[index >= src.depthwise] = -1
            maps['dw'] = ChannelMap(index)
        if 'se' in needed:
            maps['se'] = self._se_map(src_prefix, src, dst)
        for unit, u in dst_convs.items():
            if unit not in src_convs:
                self.report.notes.append(f'{dst_prefix}{unit}: the source block ({src.block.token}) has no '
                                         f'{unit}; left as initialised')
                continue
            src_groups = src_convs[unit].groups
            if u.bare:
                self._remap_bare(src_prefix + unit, dst_prefix + unit, src_groups, u.groups, maps[u.out],
                                 maps[u.inp])
            else:
                self._remap_unit(src_prefix, dst_prefix, unit, src_groups, u.groups, maps[u.out], maps[u.inp])

    def _hidden_map(self, src_prefix, src: BlockDesc, dst: BlockDesc) -> ChannelMap:
        n_src, n_dst = src.hidden, dst.hidden
        rule = self.strategy.width
        if n_src == 0:  # a bypassed source body: nothing to take
            return leading_map(0, n_dst)
        reference = None
        if n_dst < n_src and rule in ('bn', 'std', 'l1'):
            first = 'expand_conv' if (src.block.kind == 'mbconv' and src.has_expand) else \
                ('depthwise_conv' if src.block.kind == 'mbconv' else 'conv1')
            if first == 'depthwise_conv' and src.depthwise != n_src:
                # its depthwise conv ranks only the channels it computes ('_d'): keep the leading ones
                note = (f'{src_prefix[:-1]}: the depthwise conv computes {src.depthwise} of {n_src} hidden '
                        'channels; its hidden width keeps the leading channels (Eq. 2)')
                self.report.notes.append(note)
                return leading_map(n_src, n_dst)
            conv, norm = _split_unit(self.src, src_prefix + first)
            bn = next(iter(norm.values()), {}).get('weight')
            reference = reference_vector(rule, conv.get('weight'), bn)
        return width_map(n_src, n_dst, rule, reference, self.gen)

    def _se_map(self, src_prefix, src: BlockDesc, dst: BlockDesc) -> ChannelMap:
        """Channel map of the squeeze width: the width rule, ranked on the squeeze conv's weights."""
        n_src, n_dst = src.se, dst.se
        rule = self.strategy.width
        if n_src == 0:
            return leading_map(0, n_dst)
        reference = None
        if n_dst < n_src and rule == 'bn':
            note = ("width rule 'bn': a squeeze-excitation has no BN after its squeeze conv; its squeeze width "
                    'keeps the leading channels (Eq. 2)')
            if note not in self.report.notes:
                self.report.notes.append(note)
            return leading_map(n_src, n_dst)
        if n_dst < n_src and rule in ('std', 'l1'):
            reference = reference_vector(rule, self.src.get(src_prefix + 'se.conv_reduce.weight'))
        return width_map(n_src, n_dst, rule, reference, self.gen)

    def _net2deeper(self, dst_prefix, dst: BlockDesc):
        """Net2DeeperNet: a new block that computes the identity (its last BN is zero)."""
        convs = block_convs(dst)
        last = 'linear_conv' if dst.block.kind == 'mbconv' else ('conv2' if dst.spec.block_type == 'basic'
                                                                  else 'conv3')
        for unit, u in convs.items():
            if u.bare:  # squeeze-excitation: noise weights, zero bias (the zero BN after it decides)
                weight, bias = f'{dst_prefix}{unit}.weight', f'{dst_prefix}{unit}.bias'
                self._set(weight, torch.randn(self.dst[weight].shape, generator=self.gen) * self.strategy.net2net_noise,
                          [])
                self._set(bias, torch.zeros_like(self.dst[bias]), [])
                continue
            conv, norm = _split_unit(self.dst, dst_prefix + unit)
            if 'weight' in conv:
                key = f'{dst_prefix}{unit}.conv.weight'
                self._set(key, torch.randn(conv['weight'].shape, generator=self.gen) * self.strategy.net2net_noise, [])
            for norm_name, params in norm.items():
                for k, v in params.items():
                    key = f'{dst_prefix}{unit}.{norm_name}.{k}'
                    if k == 'num_batches_tracked':
                        value = torch.zeros_like(v)
                    elif k == 'running_var':
                        value = torch.ones_like(v)
                    elif k == 'weight':
                        value = torch.zeros_like(v) if unit == last else torch.ones_like(v)
                    else:
                        value = torch.zeros_like(v)
                    self._set(key, value, [])


def remap_state_dict(src_spec, src_state: Dict[str, torch.Tensor], dst_spec, dst_state: Dict[str, torch.Tensor],
                     strategy: Union[str, dict, Strategy, None] = 'fna'
                     ) -> Tuple[Dict[str, torch.Tensor], RemapReport]:
    """Remap a backbone state dict from ``src_spec`` to ``dst_spec``.

    Args:
        src_spec / dst_spec: specs (or names, files, dicts) of the source and the target.
        src_state: source backbone state dict in mmadapt's names (derived or super).
        dst_state: the target backbone's state dict: its shapes and the values kept where nothing is
            remapped (e.g. ``target.state_dict()``).
        strategy: see :func:`resolve_strategy`.
    Returns:
        (new target state dict, :class:`RemapReport`).
    """
    return _Remapper(load_spec(src_spec), src_state, load_spec(dst_spec), dst_state,
                     resolve_strategy(strategy)).run()


def remap_into(module, src_spec, src_state: Dict[str, torch.Tensor],
               strategy: Union[str, dict, Strategy, None] = 'fna') -> RemapReport:
    """Remap ``src_state`` into a spec backbone ``module`` (derived or super) in place."""
    state, report = remap_state_dict(src_spec, src_state, module.spec, module.state_dict(), strategy)
    module.load_state_dict(state, strict=True)
    return report


__all__ = ['PRESETS', 'RemapReport', 'Strategy', 'remap_into', 'remap_state_dict', 'resolve_strategy']
