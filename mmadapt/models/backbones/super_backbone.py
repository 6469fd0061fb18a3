"""Super-backbones of FNA++: a spec with candidate blocks per layer and their architecture parameters.

A super-backbone runs in one of two modes:

* ``'single'``: each searchable layer runs one candidate, the *path* (a list of candidate indices,
  one per searchable layer). Set it with :meth:`set_path`, draw it with :meth:`sample_path` (from
  ``softmax(alpha)`` or uniformly). A freshly built super-backbone runs the argmax path.
* ``'mixture'``: each searchable layer returns the softmax-weighted sum of all its candidates
  (FNA++ Eq. 7); this is what the architecture parameters are trained on.

The architecture parameters are ``arch_params`` (one vector per searchable layer, initialised to
zero = uniform). :meth:`arch_parameters` and :meth:`weight_parameters` separate them from the
operation weights, for the two optimizers of the search.
"""
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmadapt.arch import ArchSpec, derive_spec, most_probable_path_within, path_spec
from mmadapt.cost import SpecCost, expected_madds, spec_cost
from mmadapt.registry import MODELS
from .ops import SearchLayer
from .spec_backbone import SpecBackbone

MODES = ('single', 'mixture')


class SuperBackboneMixin:
    """Search interface shared by :class:`SuperMobileNetV2` and :class:`SuperResNet`."""
    padded_shortcuts = False  # resnet specs with shortcut 'conv' only

    def _init_search(self, input_size: Optional[Sequence[int]]) -> None:
        self.search_layers: List[SearchLayer] = []
        for stage in self.stages:
            for layer in stage:
                if len(layer.candidates) > 1:
                    self.search_layers.append(layer)
        self.arch_params = nn.ParameterList(
            [nn.Parameter(torch.zeros(len(layer.candidates))) for layer in self.search_layers])
        self.mode = 'single'
        self.input_size = None if input_size is None else (int(input_size[0]), int(input_size[1]))
        self._cost_cache: Dict[Tuple[int, int], SpecCost] = {}
        self.set_path(self.argmax_path())

    def _build_stage(self, infos) -> nn.Module:
        return nn.ModuleList([
            SearchLayer([self._build_block(b, info) for b in info.candidates],
                        [b.token for b in info.candidates]) for info in infos
        ])

    def _run_stage(self, i: int, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self.mode == 'single':
            for layer in stage:
                x = layer(x)
            return x
        for layer in stage:
            if len(layer.candidates) > 1:
                x = layer(x, self._probs[id(layer)])
            else:
                x = layer(x)
        return x

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.mode == 'mixture':
            self._probs = {id(layer): torch.softmax(alpha, dim=0)
                           for layer, alpha in zip(self.search_layers, self.arch_params)}
        return super().forward(x)

    # -- paths and modes -----------------------------------------------------------------------
    @property
    def num_search_layers(self) -> int:
        return len(self.search_layers)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
        self.mode = mode

    def set_path(self, path: Sequence[int]) -> None:
        """Run candidate ``path[i]`` in searchable layer i (single-path mode)."""
        path = [int(c) for c in path]
        if len(path) != len(self.search_layers):
            raise ValueError(f'path has {len(path)} entries; the super-net has {len(self.search_layers)} '
                             'searchable layers')
        for i, (layer, c) in enumerate(zip(self.search_layers, path)):
            if not 0 <= c < len(layer.candidates):
                raise ValueError(f'path[{i}] = {c}: searchable layer {i} has candidates 0..'
                                 f'{len(layer.candidates) - 1} ({"|".join(layer.tokens)})')
            layer.active = c
        self.mode = 'single'

    @property
    def path(self) -> List[int]:
        return [layer.active for layer in self.search_layers]

    def arch_probs(self) -> List[torch.Tensor]:
        """``softmax(alpha)`` of each searchable layer."""
        return [torch.softmax(a, dim=0) for a in self.arch_params]

    @torch.no_grad()
    def sample_path(self, generator: Optional[torch.Generator] = None, uniform: bool = False) -> List[int]:
        """Draw a path from ``softmax(alpha)`` (or uniformly), set it and return it.

        Pass the same seeded ``generator`` on every rank to sample the same path everywhere.
        """
        path = []
        for alpha in self.arch_params:
            probs = torch.ones_like(alpha) if uniform else torch.softmax(alpha.detach().float(), dim=0)
            path.append(int(torch.multinomial(probs.cpu(), 1, generator=generator)))
        self.set_path(path)
        return path

    @torch.no_grad()
    def argmax_path(self) -> List[int]:
        path = []
        for a in self.arch_params:
            values = a.detach().tolist()
            path.append(max(range(len(values)), key=lambda i: (values[i], -i)))
        return path

    @torch.no_grad()
    def budget_path(self, target: float, tolerance: float = 0.02,
                    input_size: Optional[Sequence[int]] = None) -> Tuple[List[int], int]:
        """The most probable path whose MAdds are within ``tolerance`` of ``target`` (the argmax path
        when it is; see :func:`mmadapt.arch.most_probable_path_within`). Returns (path, MAdds)."""
        cost = self.cost(input_size)
        scores = [torch.log_softmax(a.detach().float(), dim=0).tolist() for a in self.arch_params]
        return most_probable_path_within(scores, [lc.madds for lc in cost.table()], cost.fixed_madds,
                                         target, tolerance)

    def _full(self, per_layer: List) -> List:
        """Extend per-built-layer values to all searchable layers of the spec.

        Stages after the last output index are not built; in derived specs their layers take their
        first candidate (they are not part of this network either way).
        """
        rest = self.spec.searchable_layers()[len(per_layer):]
        return list(per_layer) + [[1.0] + [0.0] * (len(i.candidates) - 1) for i in rest]

    def derive(self, name: Optional[str] = None) -> ArchSpec:
        """The derived spec: argmax of the architecture parameters in every layer (Sec. 3.2.2)."""
        return derive_spec(self.spec, self._full([a.detach() for a in self.arch_params]), name=name)

    def path_spec(self, path: Optional[Sequence[int]] = None) -> ArchSpec:
        """The derived spec of ``path`` (default: the current path)."""
        path = list(self.path if path is None else path)
        if len(path) != len(self.search_layers):
            raise ValueError(f'path has {len(path)} entries; the super-net has {len(self.search_layers)} '
                             'searchable layers')
        rest = len(self.spec.searchable_layers()) - len(path)
        return path_spec(self.spec, path + [0] * rest)

    def path_state_dict(self) -> Dict[str, torch.Tensor]:
        """Weights of the current path under the names of the derived network of that path.

        ``stages.i.j.candidates.c.<rest>`` of the active candidate ``c`` becomes ``stages.i.j.<rest>``;
        other candidates and ``arch_params`` are left out; stem and head keep their names. This is
        the pure collection of FNA++ Sec. 3.2.3 for the backbone.
        """
        state = {}
        for key, value in self.state_dict().items():
            parts = key.split('.')
            if parts[0] == 'arch_params':
                continue
            if parts[0] == 'stages':
                layer = self.stages[int(parts[1])][int(parts[2])]
                if int(parts[4]) != layer.active:
                    continue
                key = '.'.join(parts[:3] + parts[5:])
            state[key] = value
        return state

    # -- parameters -----------------------------------------------------------------------------
    def arch_parameters(self) -> Iterator[nn.Parameter]:
        return iter(self.arch_params)

    def weight_parameters(self) -> Iterator[nn.Parameter]:
        arch = {id(p) for p in self.arch_params}
        return (p for p in self.parameters() if id(p) not in arch)

    # -- cost -------------------------------------------------------------------------------------
    def cost(self, input_size: Optional[Sequence[int]] = None) -> SpecCost:
        """Per-candidate MAdds / params lookup table at ``input_size`` (H, W), cached."""
        size = input_size or self.input_size
        if size is None:
            raise ValueError(f'{type(self).__name__}: give input_size (H, W) here or when building it')
        size = (int(size[0]), int(size[1]))
        if size not in self._cost_cache:
            self._cost_cache[size] = spec_cost(self.spec, size, self.out_indices)
        return self._cost_cache[size]

    def expected_madds(self, input_size: Optional[Sequence[int]] = None) -> torch.Tensor:
        """Eq. 9: expected MAdds under ``softmax(alpha)``, differentiable w.r.t. ``arch_params``."""
        return expected_madds(self.cost(input_size), self.arch_probs())

    def path_madds(self, path: Optional[Sequence[int]] = None,
                   input_size: Optional[Sequence[int]] = None) -> int:
        """MAdds of the network of ``path`` (default: the current path)."""
        return self.cost(input_size).path_madds(self.path if path is None else path)


@MODELS.register_module()
class SuperMobileNetV2(SuperBackboneMixin, SpecBackbone):
    """FNA++ super-backbone for MobileNetV2-like seeds (Table 1, Table 9 search spaces).

    Args:
        spec: a super-net spec, e.g. ``'fna_mbv2_det'``, ``'fna_mbv2_seg_os16'``, ``'fna_fbnet_c'``.
        input_size: (H, W) of the task's images, for the MAdds lookup table (Eq. 9).
        Other arguments as :class:`~mmadapt.models.backbones.spec_backbone.SpecBackbone`.
    """
    family = 'mbv2'
    searchable = True

    def __init__(self, spec='fna_mbv2_det', input_size: Optional[Sequence[int]] = None, **kwargs):
        super().__init__(spec=spec, **kwargs)
        self._init_search(input_size)


@MODELS.register_module()
class SuperResNet(SuperBackboneMixin, SpecBackbone):
    """FNA++ super-backbone for ResNet seeds (Table 7, Fig. 3): blocks choose kernel and groups."""
    family = 'resnet'
    searchable = True

    def __init__(self, spec='fna_resnet50', input_size: Optional[Sequence[int]] = None, **kwargs):
        super().__init__(spec=spec, **kwargs)
        self._init_search(input_size)
