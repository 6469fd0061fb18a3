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


def path_of(space: ArchSpec, spec: ArchSpec) -> list:
    """The path of ``space`` whose derived network is ``spec`` (the inverse of :func:`path_spec`).

    A stage of ``spec`` with fewer layers than the space's stage is padded with skips at its end (a
    skip is the identity, so where it stands does not change the function). Everything else (stem,
    head, stage widths and strides, activation) must be the space's, and every block of ``spec`` a
    candidate of its layer.

    Raises:
        SpecError: naming the stage and layer (or the part) that the space cannot express.
    """
    if not spec.is_derived:
        raise SpecError(f'spec {spec.name!r} has searchable layers; give a derived network')
    if space.family != spec.family or len(space.stages) != len(spec.stages):
        raise SpecError(f'spec {spec.name!r} ({spec.family}, {len(spec.stages)} stages) is not in the space '
                        f'{space.name!r} ({space.family}, {len(space.stages)} stages)')
    padded = spec.to_dict()
    choice = {}
    infos = {(i.stage, i.layer): i for i in space.layers()}
    for s, (st_space, st) in enumerate(zip(space.stages, spec.stages)):
        for field in ('out_channels', 'stride', 'dilation', 'act'):
            if getattr(st, field) != getattr(st_space, field):
                raise SpecError(f'spec {spec.name!r} stage {s}: {field} {getattr(st, field)}; the space '
                                f'{space.name!r} has {getattr(st_space, field)}')
        tokens = [layer[0].token for layer in st.layers if not layer[0].is_skip]
        if len(tokens) > st_space.depth:
            raise SpecError(f'spec {spec.name!r} stage {s}: {len(tokens)} blocks; the space {space.name!r} '
                            f'allows {st_space.depth}')
        tokens += ['skip'] * (st_space.depth - len(tokens))
        padded['stages'][s]['blocks'] = tokens
        for j, token in enumerate(tokens):
            names = [b.token for b in infos[(s, j)].candidates]
            if token not in names:
                raise SpecError(f'spec {spec.name!r} stage {s} layer {j}: {token!r} is not a candidate of the '
                                f'space {space.name!r} ({"|".join(names)})')
            choice[infos[(s, j)].index] = names.index(token)
    result = [choice[info.index] for info in space.searchable_layers()]
    mine = path_spec(space, result).to_dict()
    for d in (mine, padded):
        d.pop('name', None)
    if mine != padded:
        diff = sorted(k for k in set(mine) | set(padded) if mine.get(k) != padded.get(k))
        raise SpecError(f'spec {spec.name!r} differs from the space {space.name!r} in {diff}')
    return result
