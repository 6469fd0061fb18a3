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


def most_probable_path_within(scores: Sequence[Sequence[float]], madds: Sequence[Sequence[int]], fixed: int,
                              target: float, tolerance: float, max_buckets: int = 20000):
    """The most probable path whose MAdds (``fixed`` + one entry of ``madds`` per layer) lie within
    ``tolerance`` (relative) of ``target``: derivation under a budget.

    ``scores[i][c]`` is the log-probability of candidate ``c`` in layer ``i``. The argmax path is
    returned as it is when it meets the budget. Otherwise a dynamic programme over the layers keeps,
    for each bucket of accumulated MAdds (a bucket is 1/64 of the window, at least 1 MAdd, at most
    ``max_buckets`` buckets in all), the most probable partial path and its exact MAdds; the best
    complete path inside the window wins. Merging within a bucket makes it exact up to paths whose
    MAdds differ by less than a bucket.

    Returns:
        ``(path, madds)``. When no path found lies inside the window, the closest one (the caller
        reports the miss).
    """
    def total(path):
        return fixed + sum(m[c] for m, c in zip(madds, path))

    argmax = [max(range(len(s)), key=lambda c: (s[c], -c)) for s in scores]
    if abs(total(argmax) - target) <= tolerance * target:
        return argmax, total(argmax)
    span = sum(max(m) - min(m) for m in madds) + 1
    bucket = max(1.0, tolerance * target / 64, span / max_buckets)
    # bucket of accumulated MAdds -> (score, exact MAdds, path)
    states = {0: (0.0, fixed, [])}
    for s, m in zip(scores, madds):
        nxt = {}
        for sc, acc, path in states.values():
            for c, (sc_c, m_c) in enumerate(zip(s, m)):
                new = (sc + sc_c, acc + m_c, path + [c])
                key = int((new[1] - fixed) // bucket)
                if key not in nxt or new[0] > nxt[key][0]:
                    nxt[key] = new
        states = nxt
    done = list(states.values())
    inside = [st for st in done if abs(st[1] - target) <= tolerance * target]
    best = max(inside, key=lambda st: st[0]) if inside else min(done, key=lambda st: abs(st[1] - target))
    return best[2], best[1]
