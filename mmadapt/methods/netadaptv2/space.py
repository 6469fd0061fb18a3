"""NetAdaptV2's search space over an elastic network: one grid of widths per conv layer, kernels by
superkernel, layers removed through channel-level bypass connections (Sec. 2.2, App. C).

A sub-network is a *genome*: one option index per choice of :meth:`ElasticSpace.choices`, the
widths as fractions ``i / (n - 1)`` of the max width (``n`` points, 9 in the paper's latency space,
11 in its MAdds space: ``w_i = round(i * W / (n - 1))``) and the kernels. A *layer* is what MCD
shrinks (Sec. 2.4): the projection / pointwise conv of a block (its ``out`` width), the expansion
and depthwise convs of a block (its ``hidden`` width and its kernel), the stem and the head where
they are elastic. A width reaches 0 only where that removes something exactly: a block body with a
residual shortcut, or a conv with a bypass limit ``_b``; elsewhere the smallest width is one grid
step (the notes' recommendation 4).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mmadapt.arch import load_spec
from mmadapt.arch.elastic import ElasticSpace
from mmadapt.arch.spec import ArchSpec, Block, spec_from_dict

Genome = Tuple[int, ...]


def width_grid(points) -> List[float]:
    """Width ratios: ``points`` uniform fractions 0, 1/(n-1), ..., 1 (an int), or the given ones."""
    if isinstance(points, bool):
        raise ValueError(f'widths must be a number of grid points (>= 2) or a list of ratios, got {points!r}')
    if isinstance(points, int):
        if points < 2:
            raise ValueError(f'widths must have at least 2 grid points, got {points}')
        return [i / (points - 1) for i in range(points)]
    return sorted(set(float(r) for r in points))


def with_bypass(spec, base: Optional[int], family_ok: Sequence[str] = ('mbv1', 'mbv2', 'mbv3')) -> ArchSpec:
    """``spec`` with the bypass limit of App. B on every layer without a residual shortcut:
    ``T = base x (total stride at the layer's output) / 2`` (ImageNet, ``base`` 8: 8 at 112x112, 16
    at 56, ..., 128 at 7x7; FastDepth: base 16). Layers that already have ``_b`` keep it; ``base``
    None or 0 leaves the spec as it is (no channel-level bypass: NetAdapt v1's plain pruning)."""
    spec = load_spec(spec)
    if not base:
        return spec
    if spec.family not in family_ok:
        raise ValueError(f'channel-level bypass is built for {", ".join(family_ok)} specs, not {spec.family!r}')
    d = spec.to_dict()
    stride = spec.stem.get('stride', 2)
    for info in spec.layers():
        stride *= info.stride
        b = info.candidates[0]
        if b.is_skip or b.bypass is not None or info.has_shortcut() or b.kind not in ('mbconv', 'separable'):
            continue
        t = int(base * stride // 2)
        d['stages'][info.stage]['blocks'][info.layer] = Block(
            b.kind, kernel=b.kernel, expansion=b.expansion, groups=b.groups, hidden=b.hidden, out=b.out, se=b.se,
            bypass=max(t, 1)).token
    return spec_from_dict(d)


class NAv2Space:
    """Genomes over the max spec of an elastic network.

    Args:
        max_spec: the elastic network's max spec (with its ``_b`` bypass limits).
        widths: grid points per width (int) or the width ratios.
        kernels: allowed kernels (superkernel: centre crops), None: the max kernels only.
        divisor: widths are rounded to multiples of it (1: the paper's exact grid).
        elastic_stem / elastic_head: whether the stem / head conv widths are searched.
    """

    def __init__(self, max_spec, widths=9, kernels: Optional[Sequence[int]] = None, divisor: int = 1,
                 elastic_stem: bool = False, elastic_head: bool = True):
        self.max_spec = load_spec(max_spec)
        self.ratios = width_grid(widths)
        self.elastic = ElasticSpace(self.max_spec, width_ratios=self.ratios, per='layer', depths=None,
                                    kernels=kernels, divisor=divisor, elastic_stem=elastic_stem,
                                    elastic_head=elastic_head and self.max_spec.head is not None)
        infos = {(i.stage, i.layer): i for i in self.max_spec.layers()}
        self.choices = self.elastic.choices()
        self.low: List[int] = []  # the smallest index of each choice
        layers: Dict[Tuple, List[int]] = {}
        for pos, (kind, where, options) in enumerate(self.choices):
            low = 0
            if kind == 'width' and options[0] == 0:
                low = 1
                if len(where) == 3:
                    info = infos[where[:2]]
                    b = info.candidates[0]
                    if (where[2] == 'out' and b.bypass is not None) or \
                            (where[2] == 'hidden' and (info.has_shortcut() or b.bypass is not None)):
                        low = 0
            self.low.append(min(low, len(options) - 1))
            if len(options) < 2:
                continue
            key = where if len(where) == 1 else (where[0], where[1], 'conv' if where[2] == 'out' else 'dw')
            layers.setdefault(key, []).append(pos)
        self.layers: List[Tuple[Tuple, List[int]]] = list(layers.items())
        self.max_genome: Genome = tuple(len(o) - 1 for _, _, o in self.choices)
        self.min_genome: Genome = tuple(self.low)
        self._specs: Dict[Genome, ArchSpec] = {}

    def __len__(self) -> int:
        return len(self.choices)

    def spec(self, genome: Sequence[int]) -> ArchSpec:
        """The derived spec of ``genome`` (cached)."""
        genome = tuple(int(g) for g in genome)
        spec = self._specs.get(genome)
        if spec is None:
            if len(self._specs) > 50000:
                self._specs.clear()
            spec = self._specs[genome] = self.elastic.build(genome)
        return spec

    def layer_name(self, layer: int) -> str:
        key = self.layers[layer][0]
        return key[0] if len(key) == 1 else f'stages.{key[0]}.{key[1]}.{key[2]}'

    def shrinkable(self, genome: Sequence[int], layer: int) -> List[int]:
        """The choice positions of ``layer`` that can still go one option down."""
        return [p for p in self.layers[layer][1] if genome[p] > self.low[p]]

    def shrinkable_layers(self, genome: Sequence[int]) -> List[int]:
        return [i for i in range(len(self.layers)) if self.shrinkable(genome, i)]

    def describe(self, genome: Sequence[int]) -> Dict[str, object]:
        """Per layer: its widths / kernel in ``genome`` (for logs and trajectories)."""
        out = {}
        for li, (key, positions) in enumerate(self.layers):
            vals = []
            for p in positions:
                kind, where, options = self.choices[p]
                vals.append(f'k{options[genome[p]]}' if kind == 'kernel' else f'{options[genome[p]]:.3g}')
            out[self.layer_name(li)] = ' '.join(vals)
        return out

    # -- ordered dropout --------------------------------------------------------------------------
    def stratified_genomes(self, n: int, generator: Optional[torch.Generator] = None,
                           kernel_sampling: str = 'batch') -> List[Genome]:
        """``n`` genomes for one batch of ordered dropout (Sec. 2.3): for every width choice each of
        its options appears ``floor(n / m)`` or ``ceil(n / m)`` times in random order, independently
        across choices; kernels are drawn once for the batch (``'batch'``: per-sample sub-networks
        of one batch share kernels) or left at the max (``'max'``)."""
        if n < 1:
            raise ValueError(f'ordered dropout needs at least one image, got {n}')
        if kernel_sampling not in ('batch', 'max'):
            raise ValueError(f"kernel_sampling must be 'batch' or 'max', got {kernel_sampling!r}")
        columns = []
        for pos, (kind, _, options) in enumerate(self.choices):
            top, low = len(options) - 1, self.low[pos]
            if kind == 'kernel':
                k = top if kernel_sampling == 'max' else int(torch.randint(top + 1, (1, ), generator=generator))
                columns.append([k] * n)
            elif kind == 'width' and top > low:
                m = top - low + 1
                vals = torch.tensor([low + (i % m) for i in range(n)])
                columns.append(vals[torch.randperm(n, generator=generator)].tolist())
            else:
                columns.append([top] * n)
        return [tuple(col[i] for col in columns) for i in range(n)]

