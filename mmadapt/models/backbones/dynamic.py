"""Dynamic slimmable backbones (DS-Net): an elastic network whose stages take their width per input.

:class:`DSBackbone` wraps an elastic backbone (``net``: one set of weights at the max width, every
sub-network a contiguous leading slice, DS-Net Eq. 2) and adds

* **gates** (``gates``): gate ``g`` controls the widths of its stages; it sits at the first of them
  and picks one of ``K_g`` widths per input (a *route* is one choice per gate). The widths of a
  choice are given per stage (``widths``, e.g. the public DS-MBNet's 224..640 and 736..1152) or as
  ratios of every width of the stages (``ratios``, DS-ResNet's 0.25 / 0.5 / 0.75 / 1); a route's
  network is :meth:`mmadapt.arch.ElasticSpace.at_stage_ratios` of the max spec.
* **double-headed gates** (:class:`DoubleHeadGate`, Eq. 6-9): an average-pool encoder and ``W1``
  (sliced on its input) shared by an attention head ``x * (1 + tanh(W3 h))`` (``W3``
  zero-initialised: the attention starts as the identity) and, at a gate, a slimming head ``W2``
  whose argmax is the choice. Attention heads sit in every block (``attention='all'``), only in the
  gated stages (``'gated'``) or nowhere (``'none'``). Where they sit in a block: between the
  depthwise and the next 1x1 conv for MobileNet blocks (as DS-Net's public DS-MBNet), on the
  block's input for ResNet blocks (the paper's DS-ResNet). A gate reads the same point of the first
  block of its stages: its decision sets the widths from that point on (the depthwise conv of that
  block keeps its input width, so it is route-independent).

Three ways to run (:meth:`set_route`, :meth:`set_dynamic`):

* **a static route** (IEB's widest / slimmest / random paths, the static sub-networks): the elastic
  network sliced at that route; gates are not consulted.
* **dynamic, masked** (training the gates, Stage II): the widest route with every routed channel
  multiplied by ``sum_k onehot_k * 1[c < width_k]`` (straight-through Gumbel-softmax one-hots in
  training); exact, no speed-up, differentiable in the gate.
* **dynamic, grouped** (evaluation): the trunk before the first gate runs once for the batch; each
  gate's argmax routes every image; the images of one route run together *sliced* at that route and
  the outputs come back in input order (zero-padded to the max widths, so a head built for the max
  network reads them). A batch of one image runs its sliced path directly. Routing is deterministic
  in evaluation (no Gumbel noise).
  Its pieces are public for deployment (:mod:`mmadapt.deploy.dsnet`): :meth:`forward_trunk`,
  :meth:`gate_choice_logits` (the first gate) and :meth:`forward_route_from` (a static route on the
  trunk's outputs) compute exactly what the grouped run computes.

Normalisation: GroupNorm needs nothing per route. With BN (DS-MBNet), each route keeps its own
running statistics for the BN layers whose input depends on the route (those after the first gate
point), with shared affine parameters, as DS-Net's public code (switchable statistics); the layers
before the gate point share one set. Per-route statistics need a single gate (``K`` routes); with
several gates use GroupNorm (DS-ResNet).
"""
import itertools
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmadapt.arch import ArchSpec
from mmadapt.arch.elastic import ElasticSpace
from mmadapt.registry import MODELS
from .elastic import ChannelModulation, ElasticBackbone, output_widths
from .ops import DepthwiseSeparable, MBConv, ResBlock, match_width


def make_divisible(value: float, divisor: int) -> int:
    """Round ``value`` to a multiple of ``divisor`` (at least ``divisor``), not below 90% of it."""
    if divisor <= 1:
        return max(1, int(round(value)))
    v = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return v + divisor if v < 0.9 * value else v


class DoubleHeadGate(nn.Module):
    """DS-Net's double-headed gate (Eq. 6-9) on a point of ``channels`` (max) channels.

    ``encode`` pools and applies ``W1[:, :c]`` + ReLU (c the active width); ``attend`` scales the
    input by ``1 + tanh(W3[:c] h)`` (``'tanh'``, the paper's, ``W3`` zero-initialised: identity at
    start) or ``sigmoid`` (``'sigmoid'``, the public code's); ``logits`` is the slimming head ``W2``
    (``num_choices`` outputs, no bias). ``design='scalar'`` (the Table 7 ablation) predicts one
    ratio ``r = sigmoid(w2 h)`` and scores choice k by ``-4 ((K - 1) r - k)^2`` (the nearest choice
    wins; the scores are what the Gumbel-softmax relaxes).
    """

    def __init__(self, channels: int, hidden: int, num_choices: int = 0, attention: bool = True,
                 attention_act: str = 'tanh', design: str = 'onehot'):
        super().__init__()
        if attention_act not in ('tanh', 'sigmoid'):
            raise ValueError(f"attention_act must be 'tanh' or 'sigmoid', got {attention_act!r}")
        if design not in ('onehot', 'scalar'):
            raise ValueError(f"gate design must be 'onehot' or 'scalar', got {design!r}")
        self.channels, self.hidden, self.num_choices = channels, hidden, num_choices
        self.attention_act, self.design = attention_act, design
        self.reduce = nn.Conv2d(channels, hidden, 1)  # W1
        self.expand = None
        if attention:
            self.expand = nn.Conv2d(hidden, channels, 1)  # W3
            if attention_act == 'tanh':
                nn.init.zeros_(self.expand.weight)
                nn.init.zeros_(self.expand.bias)
        self.slim = None
        if num_choices:
            self.slim = nn.Conv2d(hidden, num_choices if design == 'onehot' else 1, 1, bias=False)  # W2

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        w = self.reduce.weight
        return F.relu(F.linear(x.mean((2, 3)), w.view(w.shape[0], -1)[:, :c], self.reduce.bias))

    def attend(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        if self.expand is None:
            return x
        c = x.shape[1]
        w = self.expand.weight
        a = F.linear(h, w.view(w.shape[0], -1)[:c], self.expand.bias[:c])
        a = 1 + torch.tanh(a) if self.attention_act == 'tanh' else torch.sigmoid(a)
        return x * a[:, :, None, None]

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        w = self.slim.weight
        z = F.linear(h, w.view(w.shape[0], -1))
        if self.design == 'onehot':
            return z
        r = torch.sigmoid(z)  # (N, 1)
        k = torch.arange(self.num_choices, device=z.device, dtype=z.dtype)
        return -4 * ((self.num_choices - 1) * r - k) ** 2

    def extra_repr(self) -> str:
        return f'{self.channels} -> {self.hidden}, choices={self.num_choices}, {self.design}'


def gumbel_onehot(logits: torch.Tensor, tau: float = 1.0, noise: bool = True,
                  generator: Optional[torch.Generator] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Straight-through one-hot of ``logits`` (N, K): forward the hard one-hot of the argmax of the
    (Gumbel-perturbed, when ``noise``) logits, backward the gradient of their softmax at ``tau``.
    Returns (one-hot, index)."""
    z = logits
    if noise:
        u = torch.rand(logits.shape, generator=generator, device=logits.device, dtype=logits.dtype)
        z = logits - torch.log((-torch.log(u.clamp_min(1e-10))).clamp_min(1e-10))
    soft = F.softmax(z / tau, dim=-1)
    index = soft.argmax(-1)
    hard = F.one_hot(index, logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft, index


class _Point:
    """An attention / gate point: block (stage, layer) and where in it."""

    def __init__(self, stage: int, layer: int, key: str, unit: Optional[str], gate: Optional[int]):
        self.stage, self.layer, self.key, self.unit, self.gate = stage, layer, key, unit, gate


class _Context:
    """State of one forward pass: whether gates decide, their one-hots and choices, masking."""

    def __init__(self, decide: bool = False, masked: bool = False, noise: bool = False, tau: float = 1.0,
                 generator: Optional[torch.Generator] = None):
        self.decide, self.masked, self.noise, self.tau, self.generator = decide, masked, noise, tau, generator
        self.onehots: Dict[int, torch.Tensor] = {}
        self.choices: Dict[int, torch.Tensor] = {}
        self.logits: Dict[int, torch.Tensor] = {}


class _DSModulation(ChannelModulation):
    """Attention heads, gate decisions and (masked mode) route masks, inside the elastic forward."""

    def __init__(self, owner: 'DSBackbone'):
        self.owner = owner

    def unit(self, name, y):
        o = self.owner
        y = o._mask(o._unit_masks.get(name), y)  # first: an attention head pools the route's channels only
        point = o._unit_points.get(name)
        return y if point is None else o._at_point(point, y)

    def block(self, name, y):
        return self.owner._mask(self.owner._block_masks.get(name), y)


@MODELS.register_module()
class DSBackbone(BaseModule):
    """Dynamic slimmable backbone (see the module docstring).

    Args:
        net: config of an mmadapt elastic backbone (``ElasticMobileNetV1``, ``ElasticMobileNetV2``,
            ``ElasticResNet``) at the widest route; ``pad_outputs`` is forced on.
        gates: one dict per gate: ``stages`` (the stage indices it controls, contiguous; it sits at
            the first) and either ``widths`` (one list of ``K`` output widths per controlled stage,
            increasing, the last the stage's max) or ``ratios`` (``K`` increasing ratios of every
            width of the stages, the last 1). Gates must not share stages.
        attention: ``'all'``, ``'gated'`` or ``'none'`` (see the module docstring).
        attention_ratio / attention_divisor: hidden width ``d`` of a gate or attention head:
            ``make_divisible(ratio * C, divisor)`` with C its point's max channels.
        attention_hidden: explicit hidden widths, one per block in order (overrides the ratio).
        attention_act: ``'tanh'`` (1 + tanh, zero-initialised W3: the paper) or ``'sigmoid'`` (the code).
        gate_design: ``'onehot'`` (the method) or ``'scalar'`` (the Table 7 ablation).
        divisor: rounding of the widths that ``ratios`` give (ElasticSpace's divisor).
        zero_init_last_norm: after ``init_weights``, zero the scale of the last norm of every block
            with a shortcut (DS-ResNet, following BigNAS: every residual block starts as its shortcut).
    """

    def __init__(self, net: dict, gates: Sequence[dict], attention: str = 'all', attention_ratio: float = 0.25,
                 attention_divisor: int = 8, attention_hidden: Optional[Sequence[int]] = None,
                 attention_act: str = 'tanh', gate_design: str = 'onehot', divisor: int = 8,
                 zero_init_last_norm: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.zero_init_last_norm = bool(zero_init_last_norm)
        if not isinstance(net, dict) or 'type' not in net:
            raise ValueError(f"DSBackbone net must be the config dict of an elastic backbone, got {net!r}")
        cls = MODELS.get(net['type']) if isinstance(net['type'], str) else net['type']
        if not (isinstance(cls, type) and issubclass(cls, ElasticBackbone)):
            raise TypeError(f'DSBackbone net must be an mmadapt elastic backbone (ElasticMobileNetV1/V2, '
                            f"ElasticResNet), got {net['type']!r}")
        self.net = MODELS.build(dict(net, pad_outputs=True))
        if isinstance(attention, str):
            if attention not in ('all', 'gated', 'none'):
                raise ValueError(f"attention must be 'all', 'gated', 'none' or a list of [stage, layer], got {attention!r}")
        else:
            attention = [tuple(int(v) for v in p) for p in attention]
        self.attention, self.attention_act = attention, attention_act
        self.out_indices = self.net.out_indices
        self.out_channels = self.net.out_channels
        spec = self.net.spec
        if spec.shortcut != 'conv' or any(b.kind == 'mbconv' and b.depthwise is not None
                                          for st in spec.stages for (b, ) in st.layers):
            raise ValueError(f"DSBackbone builds max specs with shortcut 'conv' and no depthwise widths '_d'; "
                             f'spec {spec.name!r} has NetAdaptV2 structure (shortcut {spec.shortcut!r} or _d)')
        num_stages = len(spec.stages)
        self._space = ElasticSpace(spec, divisor=divisor)
        self.gate_stages, self.gate_ratios = self._parse_gates(gates, spec, num_stages)
        self.num_choices = [len(r[0]) for r in self.gate_ratios]
        self.routes: List[Tuple[int, ...]] = list(itertools.product(*[range(k) for k in self.num_choices]))
        self._route_index = {r: i for i, r in enumerate(self.routes)}
        self.route_specs: List[ArchSpec] = [self._route_spec(r) for r in self.routes]
        self.max_route = tuple(k - 1 for k in self.num_choices)
        self.min_route = tuple(0 for _ in self.num_choices)
        self._stage_gate = {s: g for g, stages in enumerate(self.gate_stages) for s in stages}
        # attention / gate points
        blocks = [(i.stage, i.layer, self.net.stages[i.stage][i.layer], i) for i in spec.layers()
                  if i.stage < num_stages]
        self._blocks = [(s, l) for s, l, _, _ in blocks]
        if attention_hidden is not None and len(attention_hidden) != len(blocks):
            raise ValueError(f'attention_hidden has {len(attention_hidden)} widths, the network {len(blocks)} blocks')
        gate_at = {stages[0]: g for g, stages in enumerate(self.gate_stages)}
        self.heads = nn.ModuleDict()
        self._points: Dict[Tuple[int, int], _Point] = {}
        self._gate_points: Dict[int, _Point] = {}
        for n, (s, l, module, info) in enumerate(blocks):
            is_gate = l == 0 and s in gate_at
            attend = (attention == 'all' or (attention == 'gated' and s in self._stage_gate)
                      or (not isinstance(attention, str) and (s, l) in attention))
            if not (is_gate or attend):
                continue
            channels, unit = self._point_of(module, info, spec)
            hidden = (int(attention_hidden[n]) if attention_hidden is not None else
                      make_divisible(attention_ratio * channels, attention_divisor))
            key = f's{s}_l{l}'
            self.heads[key] = DoubleHeadGate(channels, hidden, self.num_choices[gate_at[s]] if is_gate else 0,
                                             attention=attend, attention_act=attention_act, design=gate_design)
            point = _Point(s, l, key, unit, gate_at[s] if is_gate else None)
            self._points[(s, l)] = point
            if is_gate:
                self._gate_points[gate_at[s]] = point
        self._unit_points = {p.unit: p for p in self._points.values() if p.unit is not None}
        self._input_points = {(p.stage, p.layer): p for p in self._points.values() if p.unit is None}
        self._build_masks(num_stages)
        self._build_route_stats()
        self._ctx = _Context()
        self.set_allowed_choices(None)
        self._route = self.max_route
        self._dynamic = False
        self.last_choices: Optional[torch.Tensor] = None  # (N, G) of the last dynamic forward
        self.net.clear_modulations()
        self.net.add_modulation(_DSModulation(self))

    def init_weights(self) -> None:
        super().init_weights()
        if self.zero_init_last_norm:
            for info in self.net.spec.layers():
                if info.stage >= len(self.net.stages):
                    continue
                module, last = self.net.stages[info.stage][info.layer], None
                if isinstance(module, ResBlock):  # its residual branch (the shortcut carries the input)
                    last = module.conv3 if module.conv3 is not None else module.conv2
                elif isinstance(module, MBConv) and info.has_shortcut():
                    last = module.linear_conv
                norm = getattr(last, 'norm', None) if last is not None and last.with_norm else None
                if norm is not None and norm.weight is not None:
                    nn.init.zeros_(norm.weight)
        for head in self.heads.values():  # the attention starts as the identity (whatever init_cfg did)
            if head.expand is not None and head.attention_act == 'tanh':
                nn.init.zeros_(head.expand.weight)
                nn.init.zeros_(head.expand.bias)

    # -- construction ---------------------------------------------------------------------------
    @staticmethod
    def _parse_gates(gates, spec, num_stages):
        stages_seen, all_stages, all_ratios = set(), [], []
        for g, gate in enumerate(gates):
            if not isinstance(gate, dict) or 'stages' not in gate:
                raise ValueError(f"gate {g} must be a dict with 'stages' and 'widths' or 'ratios', got {gate!r}")
            stages = [int(s) for s in gate['stages']]
            if not stages or stages != list(range(stages[0], stages[0] + len(stages))) or \
                    not all(0 <= s < num_stages for s in stages):
                raise ValueError(f'gate {g}: stages must be contiguous indices in 0..{num_stages - 1}, got {stages}')
            if stages_seen & set(stages):
                raise ValueError(f'gate {g}: stages {sorted(stages_seen & set(stages))} belong to another gate')
            stages_seen |= set(stages)
            if ('widths' in gate) == ('ratios' in gate):
                raise ValueError(f"gate {g}: give exactly one of 'widths' and 'ratios'")
            if 'ratios' in gate:
                r = [float(v) for v in gate['ratios']]
                ratios = [r for _ in stages]
            else:
                widths = gate['widths']
                if len(widths) != len(stages):
                    raise ValueError(f'gate {g}: {len(widths)} width lists for {len(stages)} stages')
                ratios = []
                for s, ws in zip(stages, widths):
                    top = spec.stages[s].out_channels
                    if list(ws) != sorted(ws) or len(set(ws)) != len(ws) or ws[-1] != top or ws[0] < 1:
                        raise ValueError(f'gate {g}: the widths of stage {s} must increase to its max width {top}, '
                                         f'got {list(ws)}')
                    ratios.append([w / top for w in ws])
            k = len(ratios[0])
            if any(len(r) != k for r in ratios) or k < 2:
                raise ValueError(f'gate {g}: every stage needs the same number (>= 2) of choices')
            for r in ratios:
                if r != sorted(r) or r[0] <= 0 or abs(r[-1] - 1) > 1e-9:
                    raise ValueError(f'gate {g}: ratios must increase in (0, 1] and end at 1, got {r}')
            all_stages.append(stages)
            all_ratios.append(ratios)
        return all_stages, all_ratios

    def _route_spec(self, route: Tuple[int, ...]) -> ArchSpec:
        ratios = [1.0] * len(self.net.spec.stages)
        for g, k in enumerate(route):
            for s, r in zip(self.gate_stages[g], self.gate_ratios[g]):
                ratios[s] = r[k]
        return self._space.at_stage_ratios(ratios)

    @staticmethod
    def _point_of(module, info, spec) -> Tuple[int, Optional[str]]:
        name = f'stages.{info.stage}.{info.layer}'
        if isinstance(module, DepthwiseSeparable):
            return info.in_channels, f'{name}.depthwise_conv'
        if isinstance(module, MBConv):
            return info.hidden(info.candidates[0], spec.block_type), f'{name}.depthwise_conv'
        if isinstance(module, ResBlock):
            return info.in_channels, None
        raise TypeError(f'DSBackbone has no attention point for {type(module).__name__}')

    def _build_masks(self, num_stages: int) -> None:
        """Per routed unit / block: (gate, (K, C) 0/1 channel masks of its K widths)."""
        self._unit_masks, self._block_masks = {}, {}
        self._group_norms: List[Tuple[int, nn.GroupNorm, torch.Tensor]] = []  # routed GN: (gate, norm, widths)
        tables = [output_widths(s, num_stages) for s in self.route_specs]
        for key, target in ((0, self._unit_masks), (1, self._block_masks)):
            for name in tables[0][key]:
                if name in ('stem', 'head') or not name.startswith('stages.'):
                    continue
                s = int(name.split('.')[1])
                g = self._stage_gate.get(s)
                if g is None:
                    continue
                widths = [tables[self._route_index[self._with(self.max_route, g, k)]][key][name]
                          for k in range(self.num_choices[g])]
                if len(set(widths)) == 1:
                    continue
                c = max(widths)
                target[name] = (g, (torch.arange(c)[None, :] < torch.tensor(widths)[:, None]).float())
                if key == 0:
                    parent, _, attr = name.rpartition('.')
                    unit = getattr(self.net.get_submodule(parent), attr, None)
                    norm = getattr(unit, 'norm', None) if getattr(unit, 'with_norm', False) else None
                    if isinstance(norm, nn.GroupNorm):
                        self._group_norms.append((g, norm, torch.tensor(widths)))

    @staticmethod
    def _with(route, g, k):
        r = list(route)
        r[g] = k
        return tuple(r)

    def _build_route_stats(self) -> None:
        """The BN layers whose statistics depend on the route, and their per-route banks."""
        self._switched: List[Tuple[str, _BatchNorm]] = []
        self.route_stats = nn.Module()
        if not self.gate_stages:
            return
        first = min(self.gate_stages[0])
        gate_point = self._gate_points[0]
        shared_units = set()
        if gate_point.unit is not None:  # the units of the first gated block up to the gate point
            module = self.net.stages[gate_point.stage][gate_point.layer]
            prefix = f'stages.{gate_point.stage}.{gate_point.layer}.'
            shared_units = {prefix + 'depthwise_conv'}
            if isinstance(module, MBConv) and module.expand_conv is not None:
                shared_units.add(prefix + 'expand_conv')
        for name, m in self.net.named_modules():
            if not isinstance(m, _BatchNorm):
                continue
            parts = name.split('.')
            routed = name.startswith('head') or (parts[0] == 'stages' and int(parts[1]) >= first)
            if routed and not any(name.startswith(u + '.') for u in shared_units):
                self._switched.append((name, m))
        if self._switched and len(self.num_choices) > 1:
            raise ValueError('DSBackbone keeps per-route BN statistics for one gate only; with several gates '
                             "build the elastic network with GroupNorm (norm_cfg=dict(type='GN', ...)), as DS-ResNet")
        r = len(self.routes)
        for i, (_, m) in enumerate(self._switched):
            self.route_stats.register_buffer(f'mean{i}', m.running_mean.detach().clone()[None].repeat(r, 1))
            self.route_stats.register_buffer(f'var{i}', m.running_var.detach().clone()[None].repeat(r, 1))

    # -- route statistics -----------------------------------------------------------------------
    @property
    def has_route_stats(self) -> bool:
        return bool(self._switched)

    def _bank(self, i: int) -> Tuple[torch.Tensor, torch.Tensor]:
        return getattr(self.route_stats, f'mean{i}'), getattr(self.route_stats, f'var{i}')

    def load_route_stats(self, route: Tuple[int, ...]) -> None:
        """Copy ``route``'s statistics into the BN layers (done before every static / grouped run)."""
        r = self._route_index[route]
        with torch.no_grad():
            for i, (_, m) in enumerate(self._switched):
                mean, var = self._bank(i)
                # fresh tensors, not copies into the old ones: autograd may still hold those (a BN
                # saves its statistics for backward) when several routes run before one backward
                m._buffers['running_mean'] = mean[r].clone()
                m._buffers['running_var'] = var[r].clone()

    def store_route_stats(self, route: Tuple[int, ...]) -> None:
        """Copy the BN layers' statistics back into ``route``'s bank (after a training forward)."""
        r = self._route_index[route]
        with torch.no_grad():
            for i, (_, m) in enumerate(self._switched):
                mean, var = self._bank(i)
                mean[r].copy_(m.running_mean)
                var[r].copy_(m.running_var)

    def attention_points(self) -> List[Tuple[_Point, 'DoubleHeadGate']]:
        """(point, head) of every attention head: where it sits (``stage``, ``layer``, ``unit``:
        the conv unit whose output it scales, or ``None`` for the block's input) and the head."""
        return [(p, self.heads[p.key]) for p in self._points.values() if self.heads[p.key].expand is not None]

    def switched_norms(self) -> List[_BatchNorm]:
        return [m for _, m in self._switched]

    # -- routes ---------------------------------------------------------------------------------
    def route_of(self, route) -> Tuple[int, ...]:
        """A route from a tuple of choices, ``'max'`` or ``'min'``."""
        if isinstance(route, str):
            if route not in ('max', 'min'):
                raise ValueError(f"a route is a tuple of choices, 'max' or 'min', got {route!r}")
            return self.max_route if route == 'max' else self.min_route
        route = tuple(int(k) for k in route)
        if route not in self._route_index:
            raise ValueError(f'route {route} is not in the routing space (choices per gate: {self.num_choices})')
        return route

    def route_index(self, route) -> int:
        return self._route_index[self.route_of(route)]

    def route_spec(self, route) -> ArchSpec:
        return self.route_specs[self.route_index(route)]

    def set_route(self, route) -> Tuple[int, ...]:
        """Run the static route from now on (gates not consulted)."""
        self._route = self.route_of(route)
        self._dynamic = False
        return self._route

    def set_dynamic(self, masked: Optional[bool] = None, tau: float = 1.0,
                    generator: Optional[torch.Generator] = None) -> None:
        """Let the gates route every input. ``masked``: None (masked in training, grouped slicing in
        evaluation), True or False. ``tau``: the Gumbel-softmax temperature (training)."""
        self._dynamic = True
        self._masked, self._tau, self._generator = masked, tau, generator

    def set_allowed_choices(self, allowed: Optional[Sequence[Optional[Sequence[int]]]]) -> None:
        """Restrict each gate to some of its choices (DS-Net's S / M / L: one supernet, gates trained
        on restricted routing spaces, App. A); ``None`` (or a ``None`` entry): every choice."""
        masks = []
        for g, k in enumerate(self.num_choices):
            choices = None if allowed is None or allowed[g] is None else sorted(set(int(c) for c in allowed[g]))
            if choices is not None and (not choices or choices[0] < 0 or choices[-1] >= k):
                raise ValueError(f'gate {g}: allowed choices must be a non-empty subset of 0..{k - 1}, got {allowed[g]}')
            m = torch.zeros(k)
            if choices is not None:
                m.fill_(float('-inf'))
                m[choices] = 0
            masks.append(m)
        self._allowed = masks

    def allowed_choices(self, g: int) -> List[int]:
        return [k for k in range(self.num_choices[g]) if self._allowed[g][k] == 0]

    @property
    def dynamic(self) -> bool:
        return self._dynamic

    def gate_parameters(self, part: str = 'slim') -> List[nn.Parameter]:
        """The gates' slimming heads (``'slim'``: W2, Stage II's default) or all gate and attention
        parameters (``'all'``)."""
        if part == 'slim':
            return [p for m in self.heads.values() if m.slim is not None for p in m.slim.parameters()]
        if part == 'all':
            return list(self.heads.parameters())
        raise ValueError(f"gate parameters are 'slim' or 'all', got {part!r}")

    # -- inside the forward ---------------------------------------------------------------------
    def _at_point(self, point: _Point, x: torch.Tensor) -> torch.Tensor:
        head = self.heads[point.key]
        h = head.encode(x)
        ctx = self._ctx
        if ctx.decide and point.gate is not None:
            self._decide(point.gate, head.logits(h))
        return head.attend(x, h)

    def _decide(self, g: int, logits: torch.Tensor) -> None:
        ctx = self._ctx
        logits = logits + self._allowed[g].to(logits.device, logits.dtype)
        if ctx.masked:
            onehot, index = gumbel_onehot(logits, ctx.tau, ctx.noise, ctx.generator)
        else:
            index = logits.argmax(-1)
            onehot = F.one_hot(index, logits.shape[-1]).to(logits.dtype)
        ctx.logits[g], ctx.onehots[g], ctx.choices[g] = logits, onehot, index
        if ctx.masked:  # per-image widths of the routed GroupNorms
            for gate, norm, widths in self._group_norms:
                if gate == g:
                    norm.sample_widths = widths.to(index.device)[index]
        if ctx.masked and self._switched:  # per-image statistics of the chosen routes
            hard = onehot.detach()
            for i, (_, m) in enumerate(self._switched):
                mean, var = self._bank(i)
                m.sample_stats = (hard @ mean, hard @ var)

    def _mask(self, entry, y: torch.Tensor) -> torch.Tensor:
        if entry is None or not self._ctx.masked:
            return y
        g, table = entry
        onehot = self._ctx.onehots[g]
        m = onehot @ table.to(device=y.device, dtype=onehot.dtype)  # (N, C)
        return y * match_width(m[:, :, None, None], y.shape[1]).to(y.dtype)

    # -- forward --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if not self._dynamic:
            return self._forward_static(x, self._route)
        masked = self.training if self._masked is None else self._masked
        return self._forward_masked(x) if masked else self._forward_grouped(x)

    def _run_stages(self, x, run, stages, outs) -> torch.Tensor:
        net = self.net
        for s in stages:
            for info in net.sub_layers(s):
                point = self._input_points.get((s, info.layer))
                if point is not None:
                    x = self._at_point(point, x)
                x = net.run_layer(s, info, x, run)
            if s in net.out_indices:
                outs.append(x)
        return x

    def _forward_static(self, x: torch.Tensor, route) -> Tuple[torch.Tensor, ...]:
        self._ctx = _Context()
        net = self.net
        net.set_subnet(self.route_specs[self._route_index[route]], cache=True)
        if self._switched:
            self.load_route_stats(route)
        run = net.start_run()
        outs: List[torch.Tensor] = []
        y = self._run_stages(net.run_stem(x, run), run, range(len(net.stages)), outs)
        result = net.finish(outs, y, run)
        if self._switched and self.training:
            self.store_route_stats(route)
        return result

    def _forward_masked(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self._ctx = _Context(decide=True, masked=True, noise=self.training, tau=self._tau, generator=self._generator)
        net = self.net
        net.set_subnet(self.route_specs[self._route_index[self.max_route]], cache=True)
        try:
            run = net.start_run()
            outs: List[torch.Tensor] = []
            y = self._run_stages(net.run_stem(x, run), run, range(len(net.stages)), outs)
            result = net.finish(outs, y, run)
        finally:
            for _, m in self._switched:
                m.__dict__.pop('sample_stats', None)
            for _, norm, _ in self._group_norms:
                norm.__dict__.pop('sample_widths', None)
        self.last_choices = torch.stack([self._ctx.choices[g] for g in range(len(self.num_choices))], 1)
        return result

    def gate_outputs(self) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """(logits, straight-through one-hots) per gate of the last masked forward."""
        n = len(self.num_choices)
        return [self._ctx.logits[g] for g in range(n)], [self._ctx.onehots[g] for g in range(n)]

    def _gate_input(self, g: int, x: torch.Tensor, run) -> None:
        """Run the first block of gate ``g``'s stages up to its gate point (deciding there)."""
        point = self._gate_points[g]
        if point.unit is None:
            self._at_point(point, x)
            return
        s, l = point.stage, point.layer
        info = self.net.sub_layers(s)[l]
        module = self.net.stages[s][l]
        name = f'stages.{s}.{l}'
        y = x
        if isinstance(module, MBConv) and module.expand_conv is not None:
            y = run.unit(f'{name}.expand_conv', module.expand_conv, y,
                         info.hidden(info.candidates[0], self.net.spec.block_type))
        run.unit(f'{name}.depthwise_conv', module.depthwise_conv, y, None, info.candidates[0].kernel)

    def _forward_grouped(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        n = x.shape[0]
        y, trunk_outs = self.forward_trunk(x)
        choices = torch.zeros(n, len(self.num_choices), dtype=torch.long, device=x.device)
        results = self._grouped(0, y, torch.arange(n, device=x.device), (), trunk_outs, choices)
        self.last_choices = choices
        if len(results) == 1:
            return results[0][1]
        outs = []
        for j in range(len(results[0][1])):
            first_out = results[0][1][j]
            full = first_out.new_zeros((n, ) + tuple(first_out.shape[1:]))
            for rows, res in results:
                full[rows] = res[j]
            outs.append(full)
        return tuple(outs)

    def _grouped(self, g, x, rows, prefix, trunk_outs, choices):
        """Route the images ``rows`` (input ``x`` of gate ``g``'s first stage); returns [(rows, outputs)]."""
        net = self.net
        stages = self.gate_stages[g]
        rest = tuple(k - 1 for k in self.num_choices[g + 1:])
        choice, _ = self._decide_at(g, x, prefix)
        choices[rows, g] = choice
        last_stage = (self.gate_stages[g + 1][0] if g + 1 < len(self.gate_stages) else len(net.stages))
        results = []
        values = torch.unique(choice).tolist() if x.shape[0] > 1 else [int(choice[0])]
        for k in values:
            if len(values) == 1:
                sel, xs, ts = rows, x, trunk_outs
            else:
                idx = (choice == k).nonzero()[:, 0]
                sel, xs, ts = rows[idx], x[idx], [t[idx] for t in trunk_outs]
            route = prefix + (k, ) + rest
            y, outs, run = self._run_route(route, xs, ts, range(stages[0], last_stage))
            if g + 1 < len(self.gate_stages):
                results.extend(self._grouped(g + 1, y, sel, prefix + (k, ), outs, choices))
            else:
                results.append((sel, net.finish(outs, y, run)))
        return results

    def _decide_at(self, g: int, x: torch.Tensor, prefix: Tuple[int, ...]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Gate ``g``'s (choices, logits) on ``x``, the input of its first stage (``prefix``: the
        earlier gates' choices; the later gates' widths do not matter before the gate point)."""
        rest = tuple(k - 1 for k in self.num_choices[g + 1:])
        self._ctx = _Context(decide=True)
        self.net.set_subnet(self.route_specs[self._route_index[prefix + (self.num_choices[g] - 1, ) + rest]],
                            cache=True)
        if self._switched:
            self.load_route_stats(self.max_route)  # the gate point's layers are not switched: any route
        self._gate_input(g, x, self.net.start_run())
        return self._ctx.choices[g], self._ctx.logits[g]

    def _run_route(self, route: Tuple[int, ...], x: torch.Tensor, trunk_outs: Sequence[torch.Tensor],
                   stages) -> Tuple[torch.Tensor, List[torch.Tensor], object]:
        """Run ``stages`` on ``x`` at the static ``route`` (its statistics loaded); returns (output,
        the out_indices outputs so far, the run)."""
        net = self.net
        self._ctx = _Context()
        net.set_subnet(self.route_specs[self._route_index[route]], cache=True)
        if self._switched:
            self.load_route_stats(route)
        run = net.start_run()
        outs = list(trunk_outs)
        y = self._run_stages(x, run, stages, outs)
        return y, outs, run

    # -- a grouped run in pieces (deployment: trunk, gate and static routes as separate graphs) ---
    def forward_trunk(self, x: torch.Tensor) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """The stem and the stages before the first gated stage, as a grouped run computes them (the
        max route's sub-network; these layers do not depend on the route).

        Returns:
            ``(y, trunk_outs)``: the input of the first gated stage and the outputs of the
            ``out_indices`` stages before it (for :meth:`gate_choice_logits` and
            :meth:`forward_route_from`).
        """
        if not self.gate_stages:
            raise ValueError('forward_trunk needs a DSBackbone with gates (this one has none)')
        net = self.net
        self._ctx = _Context()
        net.set_subnet(self.route_specs[self._route_index[self.max_route]], cache=True)
        run = net.start_run()
        trunk_outs: List[torch.Tensor] = []
        y = self._run_stages(net.run_stem(x, run), run, range(self.gate_stages[0][0]), trunk_outs)
        return y, trunk_outs

    def gate_choice_logits(self, y: torch.Tensor) -> torch.Tensor:
        """The first gate's logits (N, K) on the trunk output ``y`` (:meth:`forward_trunk`), as a
        grouped run computes them: the choices :meth:`set_allowed_choices` excludes are ``-inf``, the
        argmax is the choice. With several gates the later gates read the earlier routes' outputs:
        only the first gate's logits are a function of the trunk."""
        if not self.gate_stages:
            raise ValueError('gate_choice_logits needs a DSBackbone with gates (this one has none)')
        return self._decide_at(0, y, ())[1]

    def forward_route_from(self, y: torch.Tensor, trunk_outs: Sequence[torch.Tensor],
                           route) -> Tuple[torch.Tensor, ...]:
        """The rest of the network (the stages from the first gated stage on, the head, the padding to
        the max widths) at the static ``route`` on the trunk's ``(y, trunk_outs)``: what a grouped run
        computes for the images the gates send to ``route``."""
        if not self.gate_stages:
            raise ValueError('forward_route_from needs a DSBackbone with gates (this one has none)')
        route = self.route_of(route)
        y, outs, run = self._run_route(route, y, trunk_outs, range(self.gate_stages[0][0], len(self.net.stages)))
        return self.net.finish(outs, y, run)

    # -- export ----------------------------------------------------------------------------------
    def export_route(self, route) -> Tuple[dict, Dict[str, torch.Tensor]]:
        """A static route as a network of its own: (backbone config, state dict).

        The config builds a gate-less ``mmadapt.DSBackbone`` whose elastic network has the route's
        spec as its max spec and whose attention heads are the route's slices; the state dict loads
        into it with ``strict=True`` and it computes exactly what this backbone computes at the
        route (eval mode). Without attention heads, ``derived`` gives the plain derived backbone
        (``mmadapt.Derived*``) of the route instead.
        """
        route = self.route_of(route)
        if self._switched:
            self.load_route_stats(route)
        spec, net_state = self.net.export_subnet(self.route_specs[self._route_index[route]])
        if not self.attention_points():
            return dict(self.net.derived_config(spec), init_cfg=[]), net_state
        widths = output_widths(spec, len(self.net.stages))[0]
        state = {f'net.{k}': v for k, v in net_state.items()}
        hidden, where = [0] * len(self._blocks), []
        for point, m in self.attention_points():
            if point.unit is not None:
                c = widths[point.unit]
            else:
                info = [i for i in spec.layers() if i.stage == point.stage and i.layer == point.layer][0]
                c = info.in_channels
            hidden[self._blocks.index((point.stage, point.layer))] = m.hidden
            where.append([point.stage, point.layer])
            state[f'heads.{point.key}.reduce.weight'] = m.reduce.weight[:, :c].detach().clone()
            state[f'heads.{point.key}.reduce.bias'] = m.reduce.bias.detach().clone()
            state[f'heads.{point.key}.expand.weight'] = m.expand.weight[:c].detach().clone()
            state[f'heads.{point.key}.expand.bias'] = m.expand.bias[:c].detach().clone()
        cfg = dict(type='mmadapt.DSBackbone', gates=[], attention=where, attention_hidden=hidden,
                   attention_act=self.attention_act,
                   net=dict(type=f'mmadapt.{type(self.net).__name__}', spec=spec.to_dict(),
                            out_indices=self.net.out_indices, norm_cfg=self.net.norm_cfg, act_cfg=self.net.act_cfg),
                   init_cfg=[])
        return cfg, state
