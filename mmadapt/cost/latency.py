"""Latency cost: a lookup table of measured per-unit latencies, calibrated on whole networks.

Beside MAdds (:mod:`mmadapt.cost.madds`), a method's cost term can be the latency of the network on
a target device, as in NetAdaptV2. The model here follows NetAdaptV2's latency tables:

* A network is cut into *units*: every conv unit (one mmcv ``ConvModule`` = conv + norm +
  activation: the stem, every conv of every block, the head conv), every squeeze-excitation, and
  the cheap ops between them that still cost time (the stem's max pool, the residual add, the
  zero-pad of a shortcut or conv path whose widths differ, the average pool of a parameter-free
  stride-2 shortcut). A unit is keyed by its static signature (:class:`Unit`: op type, widths, kernel,
  stride, dilation, groups, input H x W, activation, batch size), so the same conv at the same
  input size is measured once however often it occurs.
* Every entry is measured on its own, at the unit's real input size, at a fixed batch size and
  thread count, in eval mode under ``torch.no_grad``: warm-up runs, then the median of repeats
  (:func:`time_callable`). No interpolation: a unit that is not in the table is measured on demand
  (``lazy=True``) or raises a :class:`KeyError` naming it.
* The sum of the entries under-predicts a whole network, since each unit runs with its input and
  weights hot in cache and without the framework's work between modules (NetAdaptV2: a few % with
  conv + BN + activation entries, ~35 % with conv-only entries; on this project's 2-core CPU at
  224x224, one thread: 6-18 % for ten ImageNet backbones). So the prediction is
  ``factor x sum of entries`` (+ ``offset`` with ``method='affine'``), fitted by :func:`calibrate` on a few whole networks
  measured with the same protocol (:func:`measure_network`; the networks are built above this layer,
  e.g. by ``mmadapt.models.build_spec_backbone``, and passed in).

On CPU, glibc's malloc returns the memory of large feature maps to the OS after every forward and
faults it in again on the next: a cost that whole networks pay and units measured alone do not, and
that varies from run to run. :func:`keep_heap_memory` switches it off for the process (the tool does
by default); a table records the setting it was measured with and refuses to mix the two.

A table belongs to one environment: device (CPU model or CUDA device name), torch version and
thread count. It is saved as JSON (:meth:`LatencyTable.save`, atomic) and loading it in another
environment is refused (:meth:`LatencyTable.load`). The JSON format::

    {
      "format": "mmadapt.latency_table/1",
      "device": "cpu: Intel(R) Xeon(R) ...",      # device_name(...) of the measured device
      "torch": "2.1.0+cpu",
      "threads": 1,                                # torch.set_num_threads during every measurement
      "batch": 1,                                  # batch of the units predict() enumerates
      "warmup": 10, "repeats": 30,                 # protocol of the latest measurements
      "allocator": "keep",                         # 'keep' after keep_heap_memory(), else 'default'
      "calibration": {"factor": 1.04, "offset": 0.0, "method": "median", "input_hw": [224, 224], "batch": 1,
                      "networks": [{"spec": "mobilenet_v2", "input_hw": [224, 224], "batch": 1,
                                    "measured_ms": 20.1, "predicted_raw_ms": 19.3}]},
      "entries": {"conv_i3_o32_k3_s2_d1_g1_224x224_relu6_b1": 0.412, ...}   # Unit.key -> ms
    }

Families: the units of every block kind of :mod:`mmadapt.arch` come from one function each,
registered for ``Block.kind`` with :func:`register_block_units`: ``mbconv`` (mbv2, and mbv3 with
its squeeze-excitation and per-stage activation), ``resblock`` (resnet), ``separable`` (mbv1),
``skip``. A new block kind adds one such function ``(block, info, spec, in_hw, batch) -> (units,
out_hw)``; stems, pools, heads and the walk over layers (:func:`spec_units`) are shared. Units
follow the activations the spec names (a backbone built with another ``act_cfg`` is not modelled).
"""
import contextlib
import json
import math
import os
import os.path as osp
import platform
import re
import statistics
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmadapt.arch import ArchSpec, Block, LayerInfo, load_spec
from .madds import conv_out_size, spec_cost

FORMAT = 'mmadapt.latency_table/1'
SE_OPS = ('se_hsigmoid', 'se_sigmoid')  # squeeze-excitation, by its gate
OPS = ('conv', 'maxpool', 'avgpool', 'add', 'pad') + SE_OPS
# activations of a unit signature: 'none' and the spec activation names (mmadapt.arch FAMILIES),
# built as the backbones build them (the mmcv configs of mmadapt.models.backbones.ops.ACTIVATIONS;
# tests/test_cost/test_latency.py checks that the two agree)
UNIT_ACTS = ('none', 'relu', 'relu6', 'hswish', 'swish')
UNIT_ACT_CFGS = {'relu': dict(type='ReLU'), 'relu6': dict(type='ReLU6'), 'hswish': dict(type='HSwish'),
                 'swish': dict(type='SiLU')}
_SE_GATE_MODULES = {'hsigmoid': nn.Hardsigmoid, 'sigmoid': nn.Sigmoid}
FIT_METHODS = ('median', 'mean')
# calibration fits: one factor (FIT_METHODS), or factor and offset ('affine')
CALIBRATIONS = FIT_METHODS + ('affine', )
ON_MISMATCH = ('error', 'drop')
COST_KINDS = ('madds', 'latency')


class TableMismatchError(ValueError):
    """A latency table was measured in another environment (device, torch version, threads)."""


# -- units ----------------------------------------------------------------------------------------
_KEY_RE = re.compile(r'^(?P<op>[a-z0-9_]+?)_i(?P<c_in>\d+)_o(?P<c_out>\d+)_k(?P<kernel>\d+)_s(?P<stride>\d+)'
                     r'_d(?P<dilation>\d+)_g(?P<groups>\d+)_(?P<in_h>\d+)x(?P<in_w>\d+)_(?P<act>[a-z0-9]+)'
                     r'_b(?P<batch>\d+)$')


@dataclass(frozen=True)
class Unit:
    """The static signature of one measured unit; equal signatures share one table entry.

    Attributes:
        op: ``'conv'`` (conv + BN + activation, one ``ConvModule``), ``'maxpool'`` (3x3, stride 2,
            padding 1), ``'avgpool'`` (2x2, stride 2, ``ceil_mode``: the parameter-free shortcut of a
            stride-2 block of a ``shortcut: pad`` ResNet), ``'add'`` (residual sum of two ``c_out`` maps, then ``act``), ``'pad'``
            (zero-pad, or cut, the channels of a shortcut from ``c_in`` to ``c_out``), or
            ``'se_hsigmoid'`` / ``'se_sigmoid'`` (squeeze-excitation of ``c_in`` channels squeezed
            to ``c_out``, ``act`` between its convs, named by its gate).
        c_in / c_out: input and output channels (of a squeeze-excitation: channels, squeeze width).
        kernel / stride / dilation / groups: of the conv or pool (1 for element-wise ops). The
            padding is always ``dilation * (kernel - 1) // 2``, as in every backbone of mmadapt.
        in_h / in_w: spatial size of the unit's input.
        act: activation after the op, one of :data:`UNIT_ACTS` (``'none'`` for none).
        batch: batch size of the measurement.
    """
    op: str
    c_in: int
    c_out: int
    kernel: int = 1
    stride: int = 1
    dilation: int = 1
    groups: int = 1
    in_h: int = 1
    in_w: int = 1
    act: str = 'none'
    batch: int = 1

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f'Unit.op must be one of {OPS}, got {self.op!r}')
        if self.act not in UNIT_ACTS:
            raise ValueError(f'Unit.act must be one of {UNIT_ACTS}, got {self.act!r}')
        for name in ('c_in', 'c_out', 'kernel', 'stride', 'dilation', 'groups', 'in_h', 'in_w', 'batch'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'Unit.{name} must be a positive integer, got {value!r} ({self.op})')
        if self.op == 'conv' and (self.c_in % self.groups or self.c_out % self.groups):
            raise ValueError(f'Unit.groups {self.groups} does not divide c_in {self.c_in} and c_out {self.c_out}')

    @property
    def key(self) -> str:
        """``conv_i32_o64_k3_s2_d1_g1_56x56_relu6_b1``: the JSON key of the unit's entry."""
        return (f'{self.op}_i{self.c_in}_o{self.c_out}_k{self.kernel}_s{self.stride}_d{self.dilation}'
                f'_g{self.groups}_{self.in_h}x{self.in_w}_{self.act}_b{self.batch}')

    @classmethod
    def from_key(cls, key: str) -> 'Unit':
        """Parse :attr:`key` back into a unit; raises ValueError naming the key."""
        m = _KEY_RE.match(key)
        if m is None:
            raise ValueError(f'latency table entry key {key!r} is not a unit signature '
                             "like 'conv_i32_o64_k3_s2_d1_g1_56x56_relu6_b1'")
        d = m.groupdict()
        return cls(op=d['op'], act=d['act'], **{k: int(v) for k, v in d.items() if k not in ('op', 'act')})

    @property
    def padding(self) -> int:
        return self.dilation * (self.kernel - 1) // 2

    @property
    def out_hw(self) -> Tuple[int, int]:
        """Spatial size of the unit's output."""
        if self.op == 'avgpool':  # ceil_mode: the size of a 'same'-padded conv of the same stride
            return ((self.in_h - 1) // self.stride + 1, (self.in_w - 1) // self.stride + 1)
        return (conv_out_size(self.in_h, self.kernel, self.stride, self.padding, self.dilation),
                conv_out_size(self.in_w, self.kernel, self.stride, self.padding, self.dilation))

    def __str__(self) -> str:
        return self.key


def conv_unit(c_in: int, c_out: int, kernel: int, in_hw: Tuple[int, int], act: str, batch: int,
              stride: int = 1, dilation: int = 1, groups: int = 1) -> Unit:
    """A conv unit (conv + BN + ``act``) at input size ``in_hw`` (H, W)."""
    return Unit('conv', c_in, c_out, kernel, stride, dilation, groups, in_hw[0], in_hw[1], act, batch)


def _shortcut_units(c_in: int, c_out: int, hw: Tuple[int, int], batch: int, add: bool,
                    act: str = 'none') -> List[Unit]:
    """Identity shortcut: zero-pad (``match_width``) where widths differ, then the residual add."""
    units = []
    if c_in != c_out:
        units.append(Unit('pad', c_in, c_out, in_h=hw[0], in_w=hw[1], batch=batch))
    if add:
        units.append(Unit('add', c_out, c_out, in_h=hw[0], in_w=hw[1], act=act, batch=batch))
    return units


# one function per block kind: (block, info, spec, in_hw, batch) -> (units in forward order, out_hw)
BlockUnitsFn = Callable[[Block, LayerInfo, ArchSpec, Tuple[int, int], int], Tuple[List[Unit], Tuple[int, int]]]
BLOCK_UNITS: Dict[str, BlockUnitsFn] = {}


def register_block_units(kind: str) -> Callable[[BlockUnitsFn], BlockUnitsFn]:
    """Register the unit enumeration of one block kind (``Block.kind``), e.g. for a new family.

    The function receives the block, its resolved layer, the spec, the layer's input size (H, W)
    and the batch size, and returns the block's units in forward order (as the module built by
    ``mmadapt.models.backbones.ops.build_block`` runs them) and the output size (H, W).
    """
    def wrap(fn: BlockUnitsFn) -> BlockUnitsFn:
        BLOCK_UNITS[kind] = fn
        return fn
    return wrap


def _geometry(block: Block, info: LayerInfo, in_hw: Tuple[int, int]):
    """(C_in, C_out, kernel, stride, dilation, output size) of a block's layer ('same' padding)."""
    k, s, d = block.kernel, info.stride, info.dilation
    pad = d * (k - 1) // 2
    out_hw = (conv_out_size(in_hw[0], k, s, pad, d), conv_out_size(in_hw[1], k, s, pad, d))
    return info.in_channels, info.out_channels, k, s, d, out_hw


@register_block_units('skip')
def _skip_units(block, info, spec, in_hw, batch):
    return [], in_hw


@register_block_units('mbconv')
def _mbconv_units(block: Block, info: LayerInfo, spec: ArchSpec, in_hw: Tuple[int, int], batch: int):
    """MBConv (``ops.MBConv``): [1x1 expand] -> k x k depthwise (stride, dilation) -> [SE] -> 1x1 linear.

    A depthwise width ``_d`` below the hidden width is a depthwise conv of ``_d`` channels and a
    ``'pad'`` unit (the bypassed hidden channels joining it); under ``shortcut: pad`` a projection
    narrower than the output is zero-padded (``'pad'``) before the residual add.
    """
    cin, cout, k, s, d, out_hw = _geometry(block, info, in_hw)
    hidden = info.hidden(block, spec.block_type)
    act = info.act
    if hidden == 0 and block.bypass is not None:  # removed through its channel-level bypass
        return [Unit('pad', cin, cout, in_h=out_hw[0], in_w=out_hw[1], batch=batch)], out_hw
    if hidden == 0:  # bypassed body: the output is the (zero-padded) input
        return _shortcut_units(cin, cout, in_hw, batch, add=False), in_hw
    units = []
    if block.hidden is not None or block.expansion != 1:
        units.append(conv_unit(cin, hidden, 1, in_hw, act, batch))
    dw = info.depthwise(block, spec.block_type)
    units.append(conv_unit(dw, dw, k, in_hw, act, batch, stride=s, dilation=d, groups=dw))
    if dw != hidden:  # '_d': the hidden channels dw.. bypass the depthwise conv and join its output
        units.append(Unit('pad', dw, hidden, in_h=out_hw[0], in_w=out_hw[1], batch=batch))
    se = spec.se_channels(info, block)
    if se:
        units.append(Unit(f"se_{spec.se['gate']}", hidden, se, in_h=out_hw[0], in_w=out_hw[1],
                          act=spec.se['act'], batch=batch))
    m = info.conv_out(block)
    units.append(conv_unit(hidden, m, 1, out_hw, 'none', batch))
    if info.has_shortcut():
        if m != cout:  # a projection narrower than the output ('shortcut: pad') is zero-padded first
            units.append(Unit('pad', m, cout, in_h=out_hw[0], in_w=out_hw[1], batch=batch))
        units += _shortcut_units(cin, cout, out_hw, batch, add=True)
    if block.bypass is not None and cout != info.conv_out(block):  # the bypassed channels join
        units.append(Unit('pad', info.conv_out(block), cout, in_h=out_hw[0], in_w=out_hw[1], batch=batch))
    return units, out_hw


@register_block_units('resblock')
def _resblock_units(block: Block, info: LayerInfo, spec: ArchSpec, in_hw: Tuple[int, int], batch: int):
    """ResNet block (``ops.ResBlock``): shortcut first (as its forward), body, then add + ReLU.

    The shortcut is a projection conv (to the conv path width M), or the identity, average-pooled at
    stride 2 (``shortcut: pad`` specs) and zero-padded (or cut) to the output width; a conv path
    narrower than the output (``shortcut: pad`` / ``pad_proj``) is zero-padded before the add.
    """
    cin, cout, k, s, d, out_hw = _geometry(block, info, in_hw)
    m = info.conv_out(block)
    hidden = info.hidden(block, spec.block_type)
    act = info.act
    units = []
    if info.has_shortcut():
        hw = in_hw
        if s != 1:
            pool = Unit('avgpool', cin, cin, 2, 2, in_h=in_hw[0], in_w=in_hw[1], batch=batch)
            units.append(pool)
            hw = pool.out_hw
        units += _shortcut_units(cin, cout, hw, batch, add=False)
    else:
        units.append(conv_unit(cin, m, 1, in_hw, 'none', batch, stride=s))
        if m != cout:
            units.append(Unit('pad', m, cout, in_h=out_hw[0], in_w=out_hw[1], batch=batch))
    if hidden == 0:
        return units, in_hw
    if spec.block_type == 'basic':
        units.append(conv_unit(cin, hidden, k, in_hw, act, batch, stride=s, dilation=d, groups=block.groups))
        units.append(conv_unit(hidden, m, 3, out_hw, 'none', batch))
    else:
        units.append(conv_unit(cin, hidden, 1, in_hw, act, batch))
        units.append(conv_unit(hidden, hidden, k, in_hw, act, batch, stride=s, dilation=d, groups=block.groups))
        units.append(conv_unit(hidden, m, 1, out_hw, 'none', batch))
    if m != cout:
        units.append(Unit('pad', m, cout, in_h=out_hw[0], in_w=out_hw[1], batch=batch))
    units.append(Unit('add', cout, cout, in_h=out_hw[0], in_w=out_hw[1], act='relu', batch=batch))
    return units, out_hw


@register_block_units('separable')
def _separable_units(block: Block, info: LayerInfo, spec: ArchSpec, in_hw: Tuple[int, int], batch: int):
    """MobileNetV1's block (``ops.DepthwiseSeparable``): k x k depthwise, 1x1 pointwise, both with act."""
    cin, cout, k, s, d, out_hw = _geometry(block, info, in_hw)
    m = info.conv_out(block)
    units = []
    if m > 0:
        units = [conv_unit(cin, cin, k, in_hw, info.act, batch, stride=s, dilation=d, groups=cin),
                 conv_unit(cin, m, 1, out_hw, info.act, batch)]
    if block.bypass is not None and cout != m:  # channel-level bypass: input channels join the output
        units.append(Unit('pad', m if m else cin, cout, in_h=out_hw[0], in_w=out_hw[1], batch=batch))
    return units, out_hw


def block_units(block: Block, info: LayerInfo, spec: ArchSpec, in_hw: Tuple[int, int], batch: int = 1
                ) -> Tuple[List[Unit], Tuple[int, int]]:
    """Units of one candidate block of a resolved layer at input size ``in_hw`` (H, W).

    Returns:
        (units in forward order, output size (H, W)).
    """
    fn = BLOCK_UNITS.get(block.kind)
    if fn is None:
        raise ValueError(f'no latency units for block kind {block.kind!r} (token {block.token!r}); known kinds: '
                         f'{sorted(BLOCK_UNITS)}; add one with mmadapt.cost.latency.register_block_units')
    return fn(block, info, spec, in_hw, batch)


@dataclass
class LayerUnits:
    """Units of every candidate of one layer at its real input size."""
    info: LayerInfo
    in_hw: Tuple[int, int]
    candidates: List[List[Unit]]

    @property
    def tokens(self) -> List[str]:
        return [b.token for b in self.info.candidates]


@dataclass
class SpecUnits:
    """The units of a spec at one input size, laid out like :class:`~mmadapt.cost.SpecCost`.

    ``stem`` holds the stem conv (and max pool), ``layers`` every built layer with the units of each
    candidate, ``head`` the head conv when it is built.
    """
    input_hw: Tuple[int, int]
    batch: int
    stem: List[Unit] = field(default_factory=list)
    layers: List[LayerUnits] = field(default_factory=list)
    head: List[Unit] = field(default_factory=list)

    def units(self) -> List[Unit]:
        """Every unit of a derived spec in forward order (repeated units repeated)."""
        searchable = [lu for lu in self.layers if lu.info.searchable]
        if searchable:
            lu = searchable[0]
            raise ValueError(f'the spec has searchable layers (stage {lu.info.stage} layer {lu.info.layer}: '
                             f'{lu.tokens}); derive a spec first, or use all_units()')
        return self.stem + [u for lu in self.layers for u in lu.candidates[0]] + self.head

    def all_units(self) -> List[Unit]:
        """The distinct units of every candidate of every layer, in first-seen order (to measure)."""
        seen = dict.fromkeys(self.stem)
        for lu in self.layers:
            for cand in lu.candidates:
                seen.update(dict.fromkeys(cand))
        seen.update(dict.fromkeys(self.head))
        return list(seen)


def spec_units(spec, input_hw: Tuple[int, int], batch: int = 1, out_indices: Optional[Sequence[int]] = None
               ) -> SpecUnits:
    """Enumerate the units of a spec at input size ``input_hw`` (H, W), every layer at its real size.

    The walk is :func:`~mmadapt.cost.spec_cost`'s: the stem (and its pool), then each layer at the
    output size of the previous one, then the head conv when it is built.

    Args:
        spec: spec, name, path or dict (derived, or a super-net: every candidate is enumerated).
        input_hw: image size (H, W) fed to the backbone.
        batch: batch size of the units.
        out_indices: as given to the backbone (stages after the last output and, unless requested,
            the head are not built). Default: the whole network.
    """
    spec = load_spec(spec)
    h, w = check_hw(input_hw)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f'batch must be a positive integer, got {batch!r}')
    n = len(spec.stages)
    last = n if out_indices is None else max(out_indices)
    act = spec.act  # stem and head; layers take their stage's (LayerInfo.act)
    stem = spec.stem
    k, s = stem['kernel'], stem['stride']
    result = SpecUnits(input_hw=(h, w), batch=batch)
    result.stem.append(conv_unit(spec.in_channels, stem['out_channels'], k, (h, w), act, batch, stride=s))
    hw = (conv_out_size(h, k, s, k // 2), conv_out_size(w, k, s, k // 2))
    if stem.get('pool'):
        pool = Unit('maxpool', stem['out_channels'], stem['out_channels'], 3, 2, in_h=hw[0], in_w=hw[1],
                    batch=batch)
        result.stem.append(pool)
        hw = pool.out_hw
    out_ch = stem['out_channels']
    for info in spec.layers():
        if info.stage > last:
            break
        cands, out_hw = [], hw
        for block in info.candidates:
            units, out_hw = block_units(block, info, spec, hw, batch)
            cands.append(units)
        result.layers.append(LayerUnits(info, hw, cands))
        hw, out_ch = out_hw, info.out_channels
    if spec.head is not None and last == n:
        result.head.append(conv_unit(out_ch, spec.head['out_channels'], 1, hw, act, batch))
    return result


def check_hw(input_hw) -> Tuple[int, int]:
    try:
        h, w = (int(v) for v in input_hw)
    except (TypeError, ValueError):
        raise ValueError(f'input_hw must be (H, W), got {input_hw!r}') from None
    if h < 1 or w < 1:
        raise ValueError(f'input_hw must be positive (H, W), got {input_hw!r}')
    return h, w


# -- measuring ------------------------------------------------------------------------------------
def device_name(device: Union[str, torch.device] = 'cpu') -> str:
    """The name a table is keyed by: ``'cpu: <model name>'`` or ``'cuda: <device name>'``.

    The CPU model is read from ``/proc/cpuinfo`` (``model name``), else from :mod:`platform`.
    """
    device = torch.device(device)
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'device {str(device)!r} requested but no CUDA device is available')
        return f'cuda: {torch.cuda.get_device_name(device)}'
    if device.type != 'cpu':
        raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {str(device)!r}")
    name = ''
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.lower().startswith('model name'):
                    name = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    name = name or platform.processor() or platform.machine() or 'unknown'
    return f'cpu: {name}'


@contextlib.contextmanager
def num_threads(threads: Optional[int]) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)`` and restore the previous count."""
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f'threads must be a positive integer, got {threads!r}')
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# process-wide allocator setting, part of a table's measurement protocol (see keep_heap_memory)
ALLOCATORS = ('default', 'keep')
_ALLOCATOR = 'default'


def keep_heap_memory() -> bool:
    """Make glibc's malloc keep freed memory in the heap for the rest of the process.

    With glibc's defaults, a feature map of more than 128 KiB is allocated with ``mmap`` and every
    forward faults its pages in again, and freed heap memory is trimmed back to the OS. A unit
    measured alone reuses one buffer, a whole network does not; on the 2-core machine of this
    project that made MobileNetV2 / FBNet-C at 224x224 run 30-50 % slower than the sum of their
    units, varying from run to run. Raising the mmap threshold to its maximum (32 MiB) and
    disabling the trim (``mallopt``) removes this overhead, as the preallocated arena of a
    deployment runtime does, and leaves a gap of about 10 %. The setting cannot be undone.

    Returns:
        True when applied (glibc), False where ``mallopt`` is not available (the process keeps
        the default allocator).
    """
    global _ALLOCATOR
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    if mallopt(m_trim_threshold, 1 << 30) != 1 or mallopt(m_mmap_threshold, 32 << 20) != 1:
        return False
    _ALLOCATOR = 'keep'
    return True


def current_allocator() -> str:
    """``'keep'`` after :func:`keep_heap_memory` succeeded in this process, else ``'default'``."""
    return _ALLOCATOR


def _check_protocol(warmup: int, repeats: int) -> None:
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f'warmup must be an integer >= 0, got {warmup!r}')
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f'repeats must be an integer >= 1, got {repeats!r}')


@torch.no_grad()
def time_callable(fn: Callable[[], object], warmup: int = 10, repeats: int = 30,
                  device: Union[str, torch.device] = 'cpu') -> float:
    """Median latency of ``fn()`` in milliseconds: ``warmup`` untimed calls, then ``repeats`` timed.

    On CUDA the device is synchronised before and after every timed call, so a call's time is its
    kernels' time, not their launch.
    """
    return 1e3 * statistics.median(alternate_times(dict(fn=fn), repeats, device, warmup)['fn'])


def alternate_times(fns: Dict[str, Callable[[], object]], repeats: int, device: Union[str, torch.device] = 'cpu',
                    warmup: int = 2) -> Dict[str, List[float]]:
    """Seconds of every timed call of each callable (name -> list): ``warmup`` untimed rounds, then
    ``repeats`` rounds in which every callable runs once, the order flipped every round, so that a
    shared, noisy machine slows every contender alike. On CUDA each call is synchronised."""
    _check_protocol(warmup, repeats)
    cuda = torch.device(device).type == 'cuda'

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    keys = list(fns)
    for i in range(repeats):
        for k in (keys if i % 2 == 0 else keys[::-1]):
            sync()
            t0 = time.perf_counter()
            fns[k]()
            sync()
            times[k].append(time.perf_counter() - t0)
    return times


def spread(times_ms: Sequence[float]) -> Dict[str, float]:
    """Median, 10th / 90th percentile, minimum and mean of a list of times (ms), and their count."""
    t = sorted(float(v) for v in times_ms)
    if not t:
        raise ValueError('spread of no times')

    def pct(q):  # linear interpolation between the closest ranks (numpy's default)
        pos = q * (len(t) - 1)
        lo = int(pos)
        return t[lo] + (t[min(lo + 1, len(t) - 1)] - t[lo]) * (pos - lo)
    return dict(median_ms=statistics.median(t), p10_ms=pct(0.1), p90_ms=pct(0.9), min_ms=t[0],
                mean_ms=statistics.fmean(t), repeats=len(t))


class _Add(nn.Module):
    """Residual add (then the activation), as in ``MBConv`` / ``ResBlock`` forward."""

    def __init__(self, act: Optional[nn.Module]):
        super().__init__()
        self.act = act

    def forward(self, x, identity):
        y = x + identity
        return y if self.act is None else self.act(y)


class _Pad(nn.Module):
    """Zero-pad (or cut) the channels of a shortcut to ``channels``, as ``match_width`` of the backbones."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def forward(self, x):
        c = x.shape[1]
        if c >= self.channels:
            return x[:, :self.channels]
        return F.pad(x, (0, 0, 0, 0, 0, self.channels - c))


class _SqueezeExcitation(nn.Module):
    """The squeeze-excitation of the backbones, ``x * gate(conv_expand(act(conv_reduce(mean(x)))))``
    (``SqueezeExcitation`` of ``mmadapt.models.backbones.ops``, same child names), built from torch
    and mmcv: the cost layer builds no model code. tests/test_cost/test_latency.py checks that the two
    compute the same function."""

    def __init__(self, channels: int, squeeze_channels: int, act_cfg: Optional[dict], gate: str):
        super().__init__()
        from mmcv.cnn import build_activation_layer
        self.conv_reduce = nn.Conv2d(channels, squeeze_channels, 1, bias=True)
        self.act = build_activation_layer(dict(act_cfg or dict(type='ReLU')))
        self.conv_expand = nn.Conv2d(squeeze_channels, channels, 1, bias=True)
        self.gate = _SE_GATE_MODULES[gate]()

    def forward(self, x):
        scale = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.conv_expand(self.act(self.conv_reduce(scale))))


def build_unit(unit: Unit, norm_cfg: Optional[dict] = None) -> Tuple[nn.Module, Tuple[torch.Size, ...]]:
    """The module a unit stands for and the shapes of its inputs (N, C, H, W).

    Returns:
        (module in eval mode, tuple of input shapes).
    """
    from mmcv.cnn import ConvModule, build_activation_layer
    shape = torch.Size((unit.batch, unit.c_in, unit.in_h, unit.in_w))
    act_cfg = None if unit.act == 'none' else dict(UNIT_ACT_CFGS[unit.act])
    if unit.op == 'conv':
        module = ConvModule(unit.c_in, unit.c_out, unit.kernel, stride=unit.stride, padding=unit.padding,
                            dilation=unit.dilation, groups=unit.groups, norm_cfg=norm_cfg or dict(type='BN'),
                            act_cfg=act_cfg)
        return module.eval(), (shape, )
    if unit.op in SE_OPS:
        gate = unit.op[len('se_'):]
        return _SqueezeExcitation(unit.c_in, unit.c_out, act_cfg, gate).eval(), (shape, )
    if unit.op == 'maxpool':
        return nn.MaxPool2d(unit.kernel, unit.stride, unit.padding).eval(), (shape, )
    if unit.op == 'avgpool':
        return nn.AvgPool2d(unit.kernel, unit.stride, ceil_mode=True).eval(), (shape, )
    if unit.op == 'pad':
        return _Pad(unit.c_out).eval(), (shape, )
    return _Add(None if act_cfg is None else build_activation_layer(act_cfg)).eval(), (shape, shape)


def measure_unit(unit: Unit, device: Union[str, torch.device] = 'cpu', threads: Optional[int] = None,
                 warmup: int = 10, repeats: int = 30) -> float:
    """Measure one unit alone at its input size: median latency in milliseconds.

    Args:
        unit: the unit's signature; its ``batch`` is the measured batch size.
        device: ``'cpu'`` or ``'cuda[:N]'``.
        threads: ``torch.set_num_threads`` during the measurement (restored afterwards); None keeps
            the current count.
        warmup / repeats: untimed calls, then timed calls whose median is returned.
    """
    module, shapes = build_unit(unit)
    module = module.to(device)
    inputs = [torch.randn(s, device=device) for s in shapes]
    with num_threads(threads):
        return time_callable(lambda: module(*inputs), warmup, repeats, device)


def measure_network(network: nn.Module, input_hw: Tuple[int, int], batch: int = 1, threads: Optional[int] = None,
                    warmup: int = 10, repeats: int = 30, device: Union[str, torch.device] = 'cpu',
                    in_channels: Optional[int] = None) -> float:
    """Measure a whole network with the protocol of the table: median latency in milliseconds.

    Args:
        network: a built module, called on one ``(batch, C, H, W)`` tensor; it is put in eval mode
            and restored. A spec's backbone is built above this layer, e.g. with
            ``mmadapt.models.build_spec_backbone(spec, out_indices)``.
        input_hw: image size (H, W). batch: batch size. threads: thread count (restored afterwards).
        warmup / repeats: untimed calls, then timed calls whose median is returned.
        device: ``'cpu'`` or ``'cuda[:N]'``; the module is moved there.
        in_channels: C of the input (default: the input channels of the module's first ``Conv2d``).
    """
    h, w = check_hw(input_hw)
    if not isinstance(network, nn.Module):
        raise TypeError(f'measure_network measures a built module, got {type(network).__name__}; build the '
                        "spec's backbone first, e.g. mmadapt.models.build_spec_backbone(spec, out_indices)")
    model = network
    in_channels = _first_conv_in_channels(model) if in_channels is None else in_channels
    was_training = model.training
    model = model.to(device).eval()
    x = torch.randn(batch, in_channels, h, w, device=device)
    try:
        with num_threads(threads):
            return time_callable(lambda: model(x), warmup, repeats, device)
    finally:
        model.train(was_training)


def _first_conv_in_channels(model: nn.Module) -> int:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    raise ValueError('cannot tell the input channels of a model without Conv2d; pass in_channels')


# -- the table ------------------------------------------------------------------------------------
class LatencyTable:
    """Measured unit latencies (milliseconds) of one environment, and the calibration factor.

    Args:
        device: ``'cpu'`` or ``'cuda[:N]'``: where entries are measured.
        threads: ``torch.set_num_threads`` during every measurement.
        batch: batch size of the units that :meth:`predict` enumerates.
        warmup / repeats: measurement protocol (untimed calls, then median of timed calls).
        lazy: measure a missing entry when it is looked up, instead of raising KeyError.
        entries: ``Unit.key -> ms``, e.g. from a file.
        factor: calibration factor (1 until :func:`calibrate` fits one).
        calibration: the record of the fit (see the module docstring), or None.
        allocator: allocator setting the entries were measured with (:data:`ALLOCATORS`); default:
            this process's (:func:`current_allocator`). Entries are only measured into a table whose setting
            is this process's, so that one table never mixes the two.
    """

    def __init__(self, device: Union[str, torch.device] = 'cpu', threads: int = 1, batch: int = 1,
                 warmup: int = 10, repeats: int = 30, lazy: bool = False,
                 entries: Optional[Dict[str, float]] = None, factor: float = 1.0,
                 calibration: Optional[Dict] = None, allocator: Optional[str] = None, offset: float = 0.0):
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f'threads must be a positive integer, got {threads!r}')
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f'batch must be a positive integer, got {batch!r}')
        _check_protocol(warmup, repeats)
        if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 0):
            raise ValueError(f'factor must be a positive number, got {factor!r}')
        self.device = str(torch.device(device))
        self.device_name = device_name(self.device)
        self.torch_version = torch.__version__
        self.threads, self.batch, self.warmup, self.repeats, self.lazy = threads, batch, warmup, repeats, lazy
        self.entries: Dict[str, float] = {}
        for key, ms in (entries or {}).items():
            Unit.from_key(key)  # validates the key
            if not (isinstance(ms, (int, float)) and math.isfinite(ms) and ms >= 0):
                raise ValueError(f'entry {key!r}: latency must be a finite number of ms >= 0, got {ms!r}')
            self.entries[key] = float(ms)
        self.factor = float(factor)
        if not (isinstance(offset, (int, float)) and math.isfinite(offset)):
            raise ValueError(f'offset must be a finite number of ms, got {offset!r}')
        self.offset = float(offset)
        self.calibration = calibration
        self.allocator = current_allocator() if allocator is None else allocator
        if self.allocator not in ALLOCATORS:
            raise ValueError(f'allocator must be one of {ALLOCATORS}, got {self.allocator!r}')

    # -- environment ---------------------------------------------------------------------------
    @property
    def environment(self) -> Dict:
        """What the table is keyed by: ``device`` (name), ``torch`` (version), ``threads``."""
        return dict(device=self.device_name, torch=self.torch_version, threads=self.threads)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, unit: Union[Unit, str]) -> bool:
        return (unit.key if isinstance(unit, Unit) else unit) in self.entries

    def __repr__(self) -> str:
        return (f'LatencyTable({len(self)} entries, device={self.device_name!r}, torch={self.torch_version}, '
                f'threads={self.threads}, batch={self.batch}, factor={self.factor:.4f}, offset={self.offset:.4f})')

    # -- entries -------------------------------------------------------------------------------
    def lookup(self, unit: Unit) -> float:
        """Latency of one unit in milliseconds; measured now if missing and the table is lazy.

        Raises:
            KeyError: the unit is missing and the table is not lazy; the message names the op.
        """
        ms = self.entries.get(unit.key)
        if ms is None:
            if not self.lazy:
                raise KeyError(f'no latency entry for op {unit.key} in the table of {self.device_name} '
                               f'(torch {self.torch_version}, {self.threads} threads); measure it with '
                               'tools/analysis/latency_table.py --specs ..., LatencyTable.measure(), or '
                               'use a lazy table')
            ms = self.entries[unit.key] = self.measure_one(unit)
        return ms

    def check_allocator(self) -> None:
        """Raise ValueError unless this process measures with the table's allocator setting."""
        if self.allocator != current_allocator():
            raise ValueError(f"the table's entries were measured with allocator {self.allocator!r}, this "
                             f'process runs with {current_allocator()!r}; ' + (
                                 'call mmadapt.cost.latency.keep_heap_memory() first' if self.allocator == 'keep'
                                 else 'measure in a process that did not call keep_heap_memory()'))

    def measure_one(self, unit: Unit) -> float:
        """Measure one unit with the table's device, threads and protocol (not stored)."""
        self.check_allocator()
        return measure_unit(unit, self.device, self.threads, self.warmup, self.repeats)

    def measure(self, units: Sequence[Unit], overwrite: bool = False,
                progress: Optional[Callable[[int, int, Unit], None]] = None) -> int:
        """Measure and store the entries of ``units`` (missing ones only unless ``overwrite``).

        Args:
            progress: called as ``progress(i, n, unit)`` before each measurement.
        Returns:
            The number of entries measured.
        """
        todo = [u for u in dict.fromkeys(units) if overwrite or u.key not in self.entries]
        for i, unit in enumerate(todo):
            if progress is not None:
                progress(i, len(todo), unit)
            self.entries[unit.key] = self.measure_one(unit)
        return len(todo)

    def latency(self, units: Sequence[Unit]) -> float:
        """Uncalibrated latency of a sequence of units: the sum of their entries (ms)."""
        return float(sum(self.lookup(u) for u in units))

    def raw_predict(self, spec, input_hw: Tuple[int, int], out_indices: Optional[Sequence[int]] = None,
                    batch: Optional[int] = None) -> float:
        """Sum of the unit entries of a derived spec at ``input_hw`` (H, W), in ms (no calibration)."""
        units = spec_units(spec, input_hw, self.batch if batch is None else batch, out_indices).units()
        return self.latency(units)

    def predict(self, spec, input_hw: Tuple[int, int], out_indices: Optional[Sequence[int]] = None,
                batch: Optional[int] = None) -> float:
        """Predicted latency of a derived spec in ms: ``factor x`` :meth:`raw_predict`."""
        return self.factor * self.raw_predict(spec, input_hw, out_indices, batch) + self.offset

    def layer_latencies(self, units: SpecUnits) -> List[List[float]]:
        """Uncalibrated latency (ms) of every candidate of every layer: a lookup table for a search."""
        return [[self.latency(c) for c in lu.candidates] for lu in units.layers]

    # -- files ---------------------------------------------------------------------------------
    def to_dict(self) -> Dict:
        return {
            'format': FORMAT,
            'device': self.device_name,
            'torch': self.torch_version,
            'threads': self.threads,
            'batch': self.batch,
            'warmup': self.warmup,
            'repeats': self.repeats,
            'allocator': self.allocator,
            'calibration': self.calibration,
            'entries': dict(sorted(self.entries.items())),
        }

    def save(self, path: str) -> None:
        """Write the table as JSON, atomically (a temporary file beside ``path``, then ``os.replace``)."""
        from mmadapt.utils.fileio import atomic_write_text
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + '\n')

    @classmethod
    def load(cls, path: str, device: Union[str, torch.device] = 'cpu', threads: Optional[int] = None,
             on_mismatch: str = 'error', lazy: bool = False) -> 'LatencyTable':
        """Load a table saved by :meth:`save` for use in the current environment.

        Args:
            path: the JSON file.
            device: the device the table is used for (``'cpu'`` or ``'cuda[:N]'``); its name must
                be the one the table was measured on.
            threads: the thread count the table is used with; None accepts the file's.
            on_mismatch: when device name, torch version or threads differ from the file's:
                ``'error'`` raises :class:`TableMismatchError` naming both environments;
                ``'drop'`` warns and returns an empty table (no entries, no calibration) keyed to
                the current environment, keeping the file's batch and protocol.
            lazy: measure missing entries on lookup.
        """
        if on_mismatch not in ON_MISMATCH:
            raise ValueError(f'on_mismatch must be one of {ON_MISMATCH}, got {on_mismatch!r}')
        try:
            with open(path, encoding='utf-8') as f:
                d = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f'latency table {path} is not valid JSON: {e}') from None
        if not isinstance(d, dict) or d.get('format') != FORMAT:
            got = d.get('format') if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"latency table {path}: field 'format' must be {FORMAT!r}, got {got!r}")
        missing = [k for k in ('device', 'torch', 'threads', 'batch', 'warmup', 'repeats', 'entries') if k not in d]
        if missing:
            raise ValueError(f'latency table {path}: missing field(s) {missing}')
        table = cls(device, threads=d['threads'] if threads is None else threads, batch=d['batch'],
                    warmup=d['warmup'], repeats=d['repeats'], lazy=lazy)  # empty, this process's allocator
        theirs = dict(device=d['device'], torch=d['torch'], threads=d['threads'])
        ours = table.environment
        diff = [k for k in ours if ours[k] != theirs[k]]
        if diff:
            text = (f'latency table {path} was measured on {_env_text(theirs)}, not on this environment, '
                    f'{_env_text(ours)} (differs in {", ".join(diff)})')
            if on_mismatch == 'error':
                raise TableMismatchError(f"{text}; measure a new table here, or load with on_mismatch='drop' "
                                         'to start an empty one')
            warnings.warn(f'{text}; its {len(d["entries"])} entries and calibration are dropped')
            return table
        calibration = d.get('calibration')
        factor = 1.0 if not calibration else calibration.get('factor', 1.0)
        offset = 0.0 if not calibration else calibration.get('offset', 0.0)
        return cls(device, threads=table.threads, batch=d['batch'], warmup=d['warmup'], repeats=d['repeats'],
                   lazy=lazy, entries=d['entries'], factor=factor, calibration=calibration, offset=offset,
                   allocator=d.get('allocator', 'default'))


def _env_text(env: Dict) -> str:
    return f"[{env['device']}, torch {env['torch']}, {env['threads']} threads]"


# -- prediction and calibration ---------------------------------------------------------------------
def predict(spec, input_hw: Tuple[int, int], table: LatencyTable,
            out_indices: Optional[Sequence[int]] = None, batch: Optional[int] = None) -> float:
    """Predicted latency of a derived spec in milliseconds: ``table.factor x sum of unit entries``.

    Args:
        spec: derived spec, name, path or dict.
        input_hw: image size (H, W). table: the environment's table.
        out_indices: as given to the backbone (default: the whole network).
        batch: batch size of the units (default: the table's).
    """
    return table.predict(spec, input_hw, out_indices, batch)


def fit_factor(predicted: Sequence[float], measured: Sequence[float], method: str = 'median') -> float:
    """The single factor ``f`` with ``measured ~ f x predicted``.

    Args:
        predicted / measured: latencies (ms) of the same networks.
        method: ``'median'`` (default): the median of the ratios ``measured / predicted``; robust
            to one network whose measurement a background job slowed down, which matters with the
            three to five networks a calibration uses on a shared machine. ``'mean'``: the mean
            ratio, i.e. least squares on the relative error ``sum_i (m_i / p_i - f)^2``; ratios
            rather than milliseconds so that the largest network does not dominate the fit.
    """
    if method not in FIT_METHODS:
        raise ValueError(f'method must be one of {FIT_METHODS}, got {method!r}')
    if len(predicted) != len(measured):
        raise ValueError(f'predicted has {len(predicted)} values, measured {len(measured)}')
    if not predicted:
        raise ValueError('calibration needs at least one network')
    for name, values in (('predicted', predicted), ('measured', measured)):
        bad = [v for v in values if not (math.isfinite(v) and v > 0)]
        if bad:
            raise ValueError(f'{name} latencies must be positive finite ms, got {bad}')
    ratios = [m / p for p, m in zip(predicted, measured)]
    return float(statistics.median(ratios) if method == 'median' else statistics.fmean(ratios))


def fit_affine(predicted: Sequence[float], measured: Sequence[float]) -> Tuple[float, float]:
    """``(f, o)`` with ``measured ~ f x predicted + o`` by least squares: the sum of isolated units
    misses a whole network's fixed cost (the framework's work between modules), which a factor alone
    spreads over large networks (over-predicted) and small ones (under-predicted). Needs at least
    two networks of different predictions; a fit with ``f <= 0`` raises ValueError."""
    fit_factor(predicted, measured)  # the checks on the values
    if len(set(predicted)) < 2:
        raise ValueError('an affine calibration needs at least two networks of different predicted latency')
    mp, mm = statistics.fmean(predicted), statistics.fmean(measured)
    f = sum((p - mp) * (m - mm) for p, m in zip(predicted, measured)) / sum((p - mp) ** 2 for p in predicted)
    if not f > 0:
        raise ValueError(f'the affine fit gives a factor {f:.4g} <= 0: measured latency does not grow with the '
                         "prediction over these networks; calibrate on networks of more different sizes or use 'median'")
    return float(f), float(mm - f * mp)


def calibrate(table: LatencyTable, specs: Sequence, input_hw: Tuple[int, int],
              measured: Optional[Sequence[float]] = None, method: str = 'median',
              out_indices: Optional[Sequence[int]] = None, networks: Optional[Sequence[nn.Module]] = None) -> float:
    """Fit the table's calibration factor on a few whole networks and store it in the table.

    Each spec's built backbone (``networks``) is measured with the table's device, threads, batch and
    protocol (:func:`measure_network`); its raw prediction is the sum of its unit entries (missing
    entries are measured when the table is lazy, else KeyError). The fit is :func:`fit_factor`.

    Args:
        table: the table; ``table.factor`` and ``table.calibration`` are set.
        specs: derived specs (names, paths, dicts or specs).
        input_hw: image size (H, W) of every measurement.
        measured: whole-network latencies (ms) to use instead of measuring, one per spec.
        method: ``'median'`` or ``'mean'`` (one factor, see :func:`fit_factor`), or ``'affine'`` (a factor
            and an offset in ms, see :func:`fit_affine`; the table's ``offset``).
        out_indices: as given to the backbones (default: the whole network).
        networks: the backbones of ``specs``, one per spec in the same order and built with
            ``out_indices`` (e.g. ``[mmadapt.models.build_spec_backbone(s, out_indices) for s in
            specs]``); measured unless ``measured`` is given.
    Returns:
        The fitted factor.
    """
    specs = [load_spec(s) for s in specs]
    if not specs:
        raise ValueError('specs: calibration needs at least one derived spec')
    if measured is not None and len(measured) != len(specs):
        raise ValueError(f'measured has {len(measured)} values for {len(specs)} specs')
    if measured is None and networks is None:
        raise ValueError('calibrate needs the networks to measure (networks=, the built backbones of the specs) '
                         'or their latencies (measured=)')
    if measured is None and len(networks) != len(specs):
        raise ValueError(f'networks has {len(networks)} modules for {len(specs)} specs')
    if method not in CALIBRATIONS:
        raise ValueError(f'method must be one of {CALIBRATIONS}, got {method!r}')
    hw = check_hw(input_hw)
    predicted = [table.raw_predict(s, hw, out_indices) for s in specs]
    if measured is None:
        table.check_allocator()
        measured = [measure_network(n, hw, table.batch, table.threads, table.warmup, table.repeats, table.device,
                                    in_channels=s.in_channels) for s, n in zip(specs, networks)]
    if method == 'affine':
        factor, offset = fit_affine(predicted, measured)
    else:
        factor, offset = fit_factor(predicted, measured, method), 0.0
    table.factor, table.offset = factor, offset
    table.calibration = dict(
        factor=factor, offset=offset, method=method, input_hw=list(hw), batch=table.batch,
        networks=[dict(spec=s.name, input_hw=list(hw), batch=table.batch, measured_ms=float(m),
                       predicted_raw_ms=float(p)) for s, p, m in zip(specs, predicted, measured)])
    return factor


def cost(spec, input_hw: Tuple[int, int], kind: str = 'madds', table: Optional[LatencyTable] = None,
         out_indices: Optional[Sequence[int]] = None) -> float:
    """The cost term of a derived spec: MAdds, or predicted latency in milliseconds.

    Args:
        spec: derived spec, name, path or dict.
        input_hw: image size (H, W).
        kind: ``'madds'`` (``spec_cost(...).madds``, multiply-adds per image) or ``'latency'``
            (:func:`predict` with ``table``, ms per batch of ``table.batch`` images).
        table: the latency table; required for ``kind='latency'``.
        out_indices: as given to the backbone (default: the whole network).
    """
    if kind not in COST_KINDS:
        raise ValueError(f'kind must be one of {COST_KINDS}, got {kind!r}')
    if kind == 'madds':
        return spec_cost(spec, input_hw, out_indices).madds
    if table is None:
        raise ValueError("table is required for kind='latency' (a LatencyTable, e.g. LatencyTable.load(path))")
    return predict(spec, input_hw, table, out_indices)


# -- statistics -----------------------------------------------------------------------------------
def _check_pairs(predicted: Sequence[float], measured: Sequence[float], minimum: int) -> None:
    if len(predicted) != len(measured):
        raise ValueError(f'predicted has {len(predicted)} values, measured {len(measured)}')
    if len(predicted) < minimum:
        raise ValueError(f'need at least {minimum} pairs of predicted and measured values, got {len(predicted)}')


def median_abs_rel_error(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Median of ``|predicted - measured| / measured`` (a fraction: 0.05 is 5 %)."""
    _check_pairs(predicted, measured, 1)
    if any(m <= 0 for m in measured):
        raise ValueError(f'measured latencies must be positive, got {list(measured)}')
    return float(statistics.median(abs(p - m) / m for p, m in zip(predicted, measured)))


def ranks(values: Sequence[float]) -> List[float]:
    """Ranks 1..n of ``values``; tied values share the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for t in range(i, j + 1):
            out[order[t]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Spearman rank correlation: Pearson correlation of the ranks (ties get mean ranks).

    Returns NaN when either side is constant (the correlation is undefined).
    """
    _check_pairs(predicted, measured, 2)
    rx, ry = ranks(predicted), ranks(measured)
    mx, my = statistics.fmean(rx), statistics.fmean(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    sxx = sum((a - mx)**2 for a in rx)
    syy = sum((b - my)**2 for b in ry)
    if sxx == 0 or syy == 0:
        return float('nan')
    return sxy / math.sqrt(sxx * syy)
