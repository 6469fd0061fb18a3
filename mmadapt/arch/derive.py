"""From architecture parameters to a derived spec (FNA++ Sec. 3.2.2: argmax per searchable layer)."""
from typing import Sequence

from .spec import ArchSpec, SpecError


def derive_spec(spec: ArchSpec, arch_params: Sequence, name: str = None) -> ArchSpec:
    """Keep, in every searchable layer, the candidate with the largest architecture parameter.

    Args:
        spec: a super-net spec.
        arch_params: one vector per searchable layer of ``spec`` (in layer order), as tensors or
            lists of floats; ties go to the first candidate.
        name: name of the derived spec (default: ``'{spec.name}_derived'``).
    """
    layers = spec.searchable_layers()
    if len(arch_params) != len(layers):
        raise SpecError(f'spec {spec.name!r} has {len(layers)} searchable layers, got '
                        f'{len(arch_params)} architecture parameter vectors')
    choices = {}
    for info, alpha in zip(layers, arch_params):
        values = [float(a) for a in alpha]
        if len(values) != len(info.candidates):
            raise SpecError(f'spec {spec.name!r}: stage {info.stage} layer {info.layer} has '
                            f'{len(info.candidates)} candidates, got {len(values)} architecture parameters')
        choices[info.index] = max(range(len(values)), key=lambda i: (values[i], -i))
    derived = spec.with_layers(choices)
    derived.name = name or f'{spec.name}_derived'
    return derived


def path_spec(spec: ArchSpec, path: Sequence[int], name: str = None) -> ArchSpec:
    """The derived spec of one path: candidate ``path[i]`` in the i-th searchable layer."""
    layers = spec.searchable_layers()
    if len(path) != len(layers):
        raise SpecError(f'spec {spec.name!r} has {len(layers)} searchable layers, got a path of '
                        f'length {len(path)}')
    derived = spec.with_layers({info.index: int(c) for info, c in zip(layers, path)})
    derived.name = name or f'{spec.name}_path'
    return derived


def arch_params_from_state_dict(state_dict, prefix: str = 'backbone.') -> list:
    """The ``arch_params`` vectors of a super-backbone, in order, from a (checkpoint) state dict."""
    key = f'{prefix}arch_params.'
    found = {}
    for k, v in state_dict.items():
        if k.startswith(key) and k[len(key):].isdigit():
            found[int(k[len(key):])] = v
    if not found:
        keys = sorted({k.rsplit('arch_params.', 1)[0] for k in state_dict if 'arch_params.' in k})
        hint = f'; architecture parameters were found under the prefixes {keys}' if keys else ''
        raise SpecError(f"no '{key}N' entries in the state dict{hint}")
    if sorted(found) != list(range(len(found))):
        raise SpecError(f"'{key}N' entries are not numbered 0..{len(found) - 1}: {sorted(found)}")
    return [found[i] for i in range(len(found))]
