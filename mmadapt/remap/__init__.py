"""Parameter remapping (FNA++ Sec. 3.1): tensors, whole backbones by spec, and seed checkpoint adapters.

Remapping works on state dicts and specs only and builds no module; the checkpoint-level helpers that
need a built backbone (``remap_checkpoint``, ``build_spec_backbone``) live in
:mod:`mmadapt.models.checkpoint`.
"""
from .adapters import (FORMATS, SEED_FORMATS, SeedFormatError, SeedReport, convert_seed, detect_format, load_seed,
                       register_seed_format, unwrap_checkpoint)
from .convs import seed_template
from .init import SEED_SPECS, RemapInit
from .network import PRESETS, RemapReport, Strategy, remap_into, remap_state_dict, resolve_strategy
from .tensor import (ChannelMap, dense_from_grouped, gather_channels, grouped_from_dense, leading_map,
                     reference_vector, remap_bn, remap_conv, remap_kernel, topk_sorted, width_map)

__all__ = [
    'FORMATS', 'SEED_FORMATS', 'SeedFormatError', 'SeedReport', 'convert_seed', 'detect_format', 'load_seed',
    'register_seed_format', 'seed_template', 'unwrap_checkpoint', 'SEED_SPECS', 'RemapInit',
    'PRESETS', 'RemapReport', 'Strategy', 'remap_into', 'remap_state_dict', 'resolve_strategy', 'ChannelMap',
    'dense_from_grouped', 'gather_channels', 'grouped_from_dense', 'leading_map', 'reference_vector',
    'remap_bn', 'remap_conv', 'remap_kernel', 'topk_sorted', 'width_map'
]
