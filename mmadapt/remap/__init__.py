"""Parameter remapping (FNA++ Sec. 3.1): tensors, whole backbones by spec, and seed checkpoint adapters."""
from .adapters import (FORMATS, SEED_FORMATS, SeedFormatError, SeedReport, convert_seed, detect_format, load_seed,
                       register_seed_format, seed_template,
                       unwrap_checkpoint)
from .init import RemapInit
from .network import PRESETS, RemapReport, Strategy, remap_into, remap_state_dict, resolve_strategy
from .tensor import (ChannelMap, dense_from_grouped, gather_channels, grouped_from_dense, leading_map,
                     reference_vector, remap_bn, remap_conv, remap_kernel, topk_sorted, width_map)

__all__ = [
    'FORMATS', 'SEED_FORMATS', 'SeedFormatError', 'SeedReport', 'convert_seed', 'detect_format', 'load_seed',
    'register_seed_format', 'seed_template',
    'unwrap_checkpoint',
    'RemapInit',
    'PRESETS', 'RemapReport', 'Strategy', 'remap_into', 'remap_state_dict', 'resolve_strategy', 'ChannelMap',
    'dense_from_grouped', 'gather_channels', 'grouped_from_dense', 'leading_map', 'reference_vector',
    'remap_bn', 'remap_conv', 'remap_kernel', 'topk_sorted', 'width_map'
]
