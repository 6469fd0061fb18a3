"""Seed checkpoints in the formats people have, renamed into mmadapt's spec-backbone names.

Formats (detected from the keys, or named):

* ``'mmadapt'``: checkpoints of mmadapt's own derived backbones (``stem.*``, ``stages.*``, ``head.*``);
* ``'torchvision'``: ``mobilenet_v2``, ``resnet18``, ``resnet50`` (``features.*`` / ``layer1.*``),
  ``mobilenet_v3_large`` / ``_small`` (``features.g.block.i.*``); timm's ResNets use the same names
  and load as this format;
* ``'timm'``: timm's EfficientNet-builder models (``mobilenetv2_100``, ``fbnetc_100``, ``mnasnet_100``,
  ``spnasnet_100``, ``mobilenetv1_100``, ``mobilenetv3_large_100`` / ``_small_100``,
  ``efficientnet_b0``: ``conv_stem``, ``blocks.s.j.conv_pw``, ``blocks.s.j.se.conv_reduce`` ...);
* ``'mmpretrain'``: mmpretrain (and mmseg / mmpose) ``MobileNetV2`` and ``ResNet`` backbones
  (``backbone.layer1.0.conv.0.conv.weight``);
* ``'mmdet'``: mmdet's ``MobileNetV2`` (``backbone.layer1.0.depthwise_conv.conv.weight``); mmdet's
  ResNet has mmpretrain's names.

The mbv1 and mbv3 families load from the ``'timm'``, ``'torchvision'`` (mbv3) and ``'mmadapt'``
formats. timm's MobileNetV3 keeps the head conv as its last block stage (``blocks.S.0.conv``) and a
hidden classifier layer in ``conv_head``, EfficientNet has the head conv in ``conv_head`` / ``bn2``:
the spec tells them apart by its ``classifier: {hidden: n}`` field (MobileNetV3's hidden layer).
torchvision's MobileNetV3 uses BN with ``eps=1e-3``; build the backbone with
``norm_cfg=dict(type='BN', eps=1e-3)`` to compute exactly its function.

Each key of the spec backbone is looked up under its name in the format. A tensor of the wrong
shape stops the conversion with an error naming the layer and both shapes; checkpoint keys that map
to nothing (classifiers, necks) and backbone keys the checkpoint lacks are listed in the report.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch

from mmadapt.arch import ArchSpec, load_spec
from mmadapt.utils.checkpoint import check_finite, load_checkpoint_file
from .convs import seed_template

FORMATS = ('mmadapt', 'torchvision', 'timm', 'mmpretrain', 'mmdet')


@dataclass
class SeedFormat:
    """A checkpoint format added with :func:`register_seed_format`."""
    name: str
    detect: Callable[[Dict[str, torch.Tensor]], Optional[str]]  # state dict -> key prefix, or None
    key: Callable[[ArchSpec, str, str], Optional[str]]  # (spec, mmadapt key, prefix) -> checkpoint key


SEED_FORMATS: Dict[str, SeedFormat] = {}


def register_seed_format(name: str, detect: Callable, key: Callable) -> None:
    """Teach the seed adapters a checkpoint format of your own (e.g. your own backbone's names).

    Args:
        name: the format's name (``format=`` in ``mmadapt.Remap`` and ``tools/remap.py``).
        detect: ``detect(state_dict)`` returns the key prefix (``''`` for none) when the state dict is
            in this format, else ``None``; used by ``format='auto'`` after the built-in formats.
        key: ``key(spec, mmadapt_key, prefix)`` returns the checkpoint key holding ``mmadapt_key``
            (the derived-backbone name, e.g. ``stages.2.1.depthwise_conv.conv.weight``), or ``None``.
    """
    if name in FORMATS:
        raise ValueError(f'{name!r} is a built-in seed format')
    SEED_FORMATS[name] = SeedFormat(name, detect, key)


class SeedFormatError(ValueError):
    """A seed checkpoint that does not fit its spec or format; the message names the layer."""


@dataclass
class SeedReport:
    """What the conversion of a seed checkpoint found."""
    format: str
    prefix: str
    mapped: List[str] = field(default_factory=list)  # our keys that received a tensor
    missing: List[str] = field(default_factory=list)  # our keys the checkpoint lacks
    unused: List[str] = field(default_factory=list)  # checkpoint keys that map to nothing

    def summary(self, max_keys: int = 20) -> str:
        lines = [f'seed format {self.format!r}' + (f' (prefix {self.prefix!r})' if self.prefix else '')
                 + f': {len(self.mapped)} tensors mapped, {len(self.missing)} backbone tensors missing, '
                 f'{len(self.unused)} checkpoint tensors unused']
        for title, keys in (('missing', self.missing), ('unused', self.unused)):
            if keys:
                more = f', ... ({len(keys) - max_keys} more)' if len(keys) > max_keys else ''
                lines.append(f'{title}: ' + ', '.join(keys[:max_keys]) + more)
        return '\n'.join(lines)

    def to_dict(self) -> dict:
        return dict(format=self.format, prefix=self.prefix, mapped=self.mapped, missing=self.missing,
                    unused=self.unused)


def unwrap_checkpoint(ckpt) -> Dict[str, torch.Tensor]:
    """The state dict inside a checkpoint (``state_dict`` / ``model`` / ``module`` entries, ``module.``)."""
    state = ckpt
    for key in ('state_dict', 'model', 'module'):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise SeedFormatError('the checkpoint holds no state dict of tensors')
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return dict(state)


def detect_format(state: Dict[str, torch.Tensor]) -> Tuple[str, str]:
    """(format, prefix) of a state dict, from its key names."""
    keys = set(state)
    for prefix in ('', 'backbone.'):
        if f'{prefix}stem.conv.weight' in keys:
            return 'mmadapt', prefix
    if 'features.0.0.weight' in keys:
        return 'torchvision', ''
    if 'conv_stem.weight' in keys:
        return 'timm', ''
    if 'conv1.weight' in keys and 'layer1.0.conv1.weight' in keys:
        return 'torchvision', ''
    for prefix in ('backbone.', ''):
        if f'{prefix}layer1.0.depthwise_conv.conv.weight' in keys:
            return 'mmdet', prefix
        if f'{prefix}conv1.conv.weight' in keys or f'{prefix}conv1.weight' in keys:
            return 'mmpretrain', prefix
    for fmt in SEED_FORMATS.values():
        prefix = fmt.detect(state)
        if prefix is not None:
            return fmt.name, prefix
    sample = sorted(keys)[:5]
    raise SeedFormatError(f'cannot tell the format of the checkpoint (first keys: {sample}); name it with '
                          f'format=, one of {list(FORMATS) + list(SEED_FORMATS)}')


def _layer_indices(spec: ArchSpec) -> Dict[Tuple[int, int], Tuple[int, int]]:
    """(stage, layer) -> (index among the stage's blocks, global block index), skipping ``skip`` layers."""
    out, g = {}, 0
    for info in spec.layers():
        if info.candidates[0].is_skip:
            continue
        j = sum(1 for k in out if k[0] == info.stage)
        g += 1
        out[(info.stage, info.layer)] = (j, g)
    return out


def foreign_key(fmt: str, spec: ArchSpec, key: str, indices=None, prefix: str = '') -> Optional[str]:
    """Name of mmadapt backbone key ``key`` (derived naming) in checkpoint format ``fmt``."""
    if fmt in SEED_FORMATS:
        return SEED_FORMATS[fmt].key(spec, key, prefix)
    indices = indices or _layer_indices(spec)
    parts = key.split('.')
    if fmt == 'mmadapt':
        return prefix + key
    if spec.family in ('mbv1', 'mbv3'):
        return _mobilenet_key(fmt, spec, parts, indices, prefix)
    mbv2 = spec.family == 'mbv2'
    if parts[0] in ('stem', 'head'):
        module, rest = parts[1], '.'.join(parts[2:])
        is_conv = module == 'conv'
        if parts[0] == 'stem':
            names = {
                'torchvision': ('features.0.0', 'features.0.1') if mbv2 else ('conv1', 'bn1'),
                'timm': ('conv_stem', 'bn1'),
                'mmpretrain': ('conv1.conv', 'conv1.bn') if mbv2 else ('conv1', 'bn1'),
                'mmdet': ('conv1.conv', 'conv1.bn') if mbv2 else ('conv1', 'bn1'),
            }[fmt]
        else:
            n = len(indices) + 1
            names = {
                'torchvision': (f'features.{n}.0', f'features.{n}.1'),
                'timm': ('conv_head', 'bn2'),
                'mmpretrain': ('conv2.conv', 'conv2.bn'),
                'mmdet': ('conv2.conv', 'conv2.bn'),
            }[fmt]
        return prefix + f'{names[0 if is_conv else 1]}.{rest}'
    if parts[0] != 'stages':
        return None
    s, j, unit, module = int(parts[1]), int(parts[2]), parts[3], parts[4]
    rest = '.'.join(parts[5:])
    is_conv = module == 'conv'
    if (s, j) not in indices:
        return None
    bj, g = indices[(s, j)]
    if not mbv2:
        layer = f'layer{s + 1}.{bj}'
        if unit == 'downsample':
            return prefix + f"{layer}.downsample.{0 if is_conv else 1}.{rest}"
        k = unit[-1]  # conv1 / conv2 / conv3
        return prefix + (f'{layer}.conv{k}.{rest}' if is_conv else f'{layer}.bn{k}.{rest}')
    info = next(i for i in spec.layers() if (i.stage, i.layer) == (s, j))
    block = info.candidates[0]
    expand = block.hidden is not None or block.expansion != 1
    if fmt == 'torchvision':
        order = (['expand_conv'] if expand else []) + ['depthwise_conv']
        if unit in order:
            return prefix + f'features.{g}.conv.{order.index(unit)}.{0 if is_conv else 1}.{rest}'
        n = len(order)
        return prefix + f'features.{g}.conv.{n if is_conv else n + 1}.{rest}'
    if fmt == 'timm':
        if expand:
            names = {'expand_conv': ('conv_pw', 'bn1'), 'depthwise_conv': ('conv_dw', 'bn2'),
                     'linear_conv': ('conv_pwl', 'bn3')}
        else:
            names = {'depthwise_conv': ('conv_dw', 'bn1'), 'linear_conv': ('conv_pw', 'bn2')}
        return prefix + f'blocks.{s}.{bj}.{names[unit][0 if is_conv else 1]}.{rest}'
    if fmt == 'mmpretrain':
        order = (['expand_conv'] if expand else []) + ['depthwise_conv', 'linear_conv']
        return prefix + f'layer{s + 1}.{bj}.conv.{order.index(unit)}.{module}.{rest}'
    if fmt == 'mmdet':
        return prefix + f'layer{s + 1}.{bj}.{unit}.{module}.{rest}'
    raise SeedFormatError(f'unknown seed format {fmt!r}; allowed: {list(FORMATS)}')


_NEW_FAMILY_FORMATS = {'mbv1': ('mmadapt', 'timm'), 'mbv3': ('mmadapt', 'timm', 'torchvision')}


def _mobilenet_key(fmt: str, spec: ArchSpec, parts: List[str], indices, prefix: str) -> Optional[str]:
    """:func:`foreign_key` for the mbv1 (MobileNetV1) and mbv3 (MobileNetV3, EfficientNet) families."""
    allowed = _NEW_FAMILY_FORMATS[spec.family]
    if fmt not in allowed:
        raise SeedFormatError(f'seed format {fmt!r} has no names for {spec.family} specs; allowed: {list(allowed)}')
    if parts[0] in ('stem', 'head'):
        module, rest = parts[1], '.'.join(parts[2:])
        i = 0 if module == 'conv' else 1
        if parts[0] == 'stem':
            names = ('features.0.0', 'features.0.1') if fmt == 'torchvision' else ('conv_stem', 'bn1')
        elif fmt == 'torchvision':
            n = len(indices) + 1
            names = (f'features.{n}.0', f'features.{n}.1')
        elif (spec.classifier or {}).get('hidden'):  # timm's MobileNetV3 class: head conv in the blocks
            names = (f'blocks.{len(spec.stages)}.0.conv', f'blocks.{len(spec.stages)}.0.bn1')
        else:  # timm's EfficientNet class
            names = ('conv_head', 'bn2')
        return prefix + f'{names[i]}.{rest}'
    if parts[0] != 'stages':
        return None
    s, j, unit, module = int(parts[1]), int(parts[2]), parts[3], parts[4]
    if (s, j) not in indices:
        return None
    bj, g = indices[(s, j)]
    rest = '.'.join(parts[5:])
    is_conv = module == 'conv'
    info = next(i for i in spec.layers() if (i.stage, i.layer) == (s, j))
    block = info.candidates[0]
    if block.kind == 'separable':  # timm's DepthwiseSeparableConv with pw_act ('dsa' blocks)
        names = {'depthwise_conv': ('conv_dw', 'bn1'), 'pointwise_conv': ('conv_pw', 'bn2')}
        return prefix + f'blocks.{s}.{bj}.{names[unit][0 if is_conv else 1]}.{rest}'
    expand = block.hidden is not None or block.expansion != 1
    se_rest = '.'.join(parts[4:])  # e.g. conv_reduce.weight
    if fmt == 'torchvision':
        order = ((['expand_conv'] if expand else []) + ['depthwise_conv'] + (['se'] if block.se else [])
                 + ['linear_conv'])
        if unit == 'se':
            fc = {'conv_reduce': 'fc1', 'conv_expand': 'fc2'}[module]
            return prefix + f"features.{g}.block.{order.index('se')}.{fc}.{rest}"
        return prefix + f'features.{g}.block.{order.index(unit)}.{0 if is_conv else 1}.{rest}'
    if unit == 'se':
        return prefix + f'blocks.{s}.{bj}.se.{se_rest}'
    if expand:  # timm's InvertedResidual
        names = {'expand_conv': ('conv_pw', 'bn1'), 'depthwise_conv': ('conv_dw', 'bn2'),
                 'linear_conv': ('conv_pwl', 'bn3')}
    else:  # timm's DepthwiseSeparableConv
        names = {'depthwise_conv': ('conv_dw', 'bn1'), 'linear_conv': ('conv_pw', 'bn2')}
    return prefix + f'blocks.{s}.{bj}.{names[unit][0 if is_conv else 1]}.{rest}'


def convert_seed(state: Dict[str, torch.Tensor], spec, template: Dict[str, torch.Tensor],
                 fmt: str = 'auto', prefix: Optional[str] = None) -> Tuple[Dict[str, torch.Tensor], SeedReport]:
    """Rename a seed state dict into mmadapt's names for ``spec``.

    Args:
        state: the checkpoint's state dict (see :func:`unwrap_checkpoint`).
        spec: the seed's spec (e.g. ``'mobilenet_v2'``).
        template: keys and shapes of the seed backbone of ``spec`` (:func:`seed_template`, or a built
            backbone's ``state_dict()``).
        fmt: one of :data:`FORMATS` or ``'auto'``. prefix: key prefix in the checkpoint (default:
            detected, e.g. ``'backbone.'`` for mmpretrain / mmdet model checkpoints).
    Raises:
        SeedFormatError: a tensor has the wrong shape (naming the first such layer and both shapes),
            or no key of the checkpoint matches.
    """
    spec = load_spec(spec)
    if fmt == 'auto':
        fmt, detected = detect_format(state)
        prefix = detected if prefix is None else prefix
    elif fmt not in FORMATS and fmt not in SEED_FORMATS:
        raise SeedFormatError(f'unknown seed format {fmt!r}; allowed: {list(FORMATS) + list(SEED_FORMATS)} or auto')
    if prefix is None:
        if fmt in SEED_FORMATS:
            prefix = SEED_FORMATS[fmt].detect(state) or ''
        else:
            prefix = 'backbone.' if (fmt in ('mmpretrain', 'mmdet', 'mmadapt')
                                     and any(k.startswith('backbone.') for k in state)) else ''
    indices = _layer_indices(spec)
    out, report = {}, SeedReport(fmt, prefix)
    used = set()
    for key, target in template.items():
        name = foreign_key(fmt, spec, key, indices, prefix)
        if name is None or name not in state:
            report.missing.append(key)
            continue
        value = state[name]
        if tuple(value.shape) != tuple(target.shape):
            raise SeedFormatError(f"seed checkpoint does not fit spec {spec.name!r}: layer {key} ({fmt} key {name}) "
                                  f'has shape {tuple(value.shape)} in the checkpoint, the spec needs '
                                  f'{tuple(target.shape)}')
        out[key] = value
        used.add(name)
        report.mapped.append(key)
    if not report.mapped:
        raise SeedFormatError(f"no tensor of the checkpoint matches spec {spec.name!r} in format {fmt!r} "
                              f"(prefix {prefix!r}); first expected key: "
                              f'{foreign_key(fmt, spec, next(iter(template)), indices, prefix)}')
    report.unused = sorted(k for k in state if k not in used)
    return out, report


def load_seed(checkpoint, spec, fmt: str = 'auto', prefix: Optional[str] = None, what: Optional[str] = None
              ) -> Tuple[Dict[str, torch.Tensor], SeedReport]:
    """Read a seed checkpoint (a path or a loaded object) and rename it for ``spec``.

    Weights with NaN or Inf are refused (``what`` names the checkpoint in the message; default: its
    path)."""
    if isinstance(checkpoint, str):
        what = what or f'seed checkpoint {checkpoint}'
        checkpoint = load_checkpoint_file(checkpoint, 'seed checkpoint')
    state = unwrap_checkpoint(checkpoint)
    check_finite(state, what or 'seed checkpoint')
    return convert_seed(state, spec, seed_template(spec), fmt, prefix)
