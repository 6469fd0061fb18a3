"""Architecture specs: plain-data descriptions of seeds, super-nets and derived networks."""
from .elastic import ElasticSpace, resolve_subnet
from .derive import arch_params_from_state_dict, derive_spec, most_probable_path_within, path_of, path_spec
from .spec import (ArchSpec, Block, LayerInfo, SpecError, Stage, builtin_specs, dump_spec, load_spec,
                   parse_block, spec_from_dict, validate)

__all__ = [
    'ElasticSpace', 'resolve_subnet', 'ArchSpec', 'Block', 'LayerInfo', 'SpecError', 'Stage', 'arch_params_from_state_dict', 'builtin_specs', 'derive_spec', 'dump_spec',
    'load_spec', 'most_probable_path_within', 'parse_block', 'path_of', 'path_spec', 'spec_from_dict', 'validate', 'draw_spec'
]


def draw_spec(*args, **kwargs):
    """Draw a spec as PNG (see :func:`mmadapt.arch.draw.draw_spec`); imports matplotlib lazily."""
    from .draw import draw_spec as _draw
    return _draw(*args, **kwargs)
