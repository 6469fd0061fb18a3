"""Architecture specs: one plain-data description of a seed, a super-net and a derived network.

A spec is a stem, stages (a number fixed by the family, any for mbv3 and resnet) and an optional head conv. Every
stage has an output width, the stride of its first layer and a dilation, and a list of layers. A
layer is one block token (a derived network) or several candidate tokens (a searchable layer of a
super-net), written ``'k3e3|k5e6|skip'`` or as a list.

Block tokens:

* ``k{kernel}e{expansion}``: MobileNetV2 inverted residual (MBConv): 1x1 expansion to
  ``round(in * expansion)`` channels (left out when the expansion is 1), ``kernel`` x ``kernel``
  depthwise conv carrying the stride and dilation, 1x1 linear projection.
* ``k{kernel}g{groups}``: ResNet block whose searchable conv (the first conv of a basic block, the
  middle conv of a bottleneck, FNA++ Fig. 3) has this kernel and number of groups. ``k3g1`` is the
  original block.
* ``skip``: the identity (depth search); not allowed as the first layer of a stage.

Explicit widths, for the methods that change widths layer by layer, are suffixes:

* ``_h{n}``: hidden width of the block (MBConv: channels of the expansion and the depthwise stage,
  and an expansion conv is then always present, as in FBNet's ``e1`` blocks; ResNet: width of the
  inner convs).
  ``_h0`` removes the block body: the layer is bypassed through its shortcut.
* ``_d{n}`` (MBConv, after ``_h``): depthwise width, ``0 < n <= hidden`` (default: the hidden
  width). The depthwise conv computes the first n hidden channels; hidden channels n.. pass
  through unchanged (no BN, no activation; subsampled ``x[..., ::s, ::s]`` where the depthwise conv
  has stride s: NetAdaptV2's channel-level bypass of a depthwise layer, T = infinity). The
  squeeze-excitation and the projection read all hidden channels.
* ``_c{n}``: output width of the block instead of the stage's ``out_channels``. A block that is not
  the first of its stage keeps its shortcut when its width changes: the input is zero-padded (or
  its leading channels taken) to the output width. Under a zero-padding shortcut rule
  (``shortcut: pad`` / ``pad_proj``, below) ``_c`` is the width of the block's conv path, and
  the block's output may be wider.

Families and their tokens:

* ``mbv2`` (MobileNetV2, FBNet, Proxyless, MnasNet, SPNASNet): 7 stages, ``k{kernel}e{expansion}``
  tokens, optional head conv; activation ``relu6`` or ``relu``.
* ``resnet``: any number of stages (ImageNet ResNets 4, CIFAR ResNets 3) of ``k{kernel}g{groups}``
  tokens (``block: basic`` or ``bottleneck``), and the optional spec-level ``shortcut`` rule:

  - ``conv`` (the default, left out of a written spec): torchvision's ResNets. The first layer of a
    stage has a projection shortcut (1x1 conv + BN with the stride, to the output width) unless it
    has stride 1 and equal widths; every other layer the identity, zero-padded (or cut) to ``_c``.
  - ``pad`` (CIFAR ResNets, He et al.'s option A as Network Adjustment's code builds it): every
    shortcut is parameter-free. The block's conv path width M is ``_c`` (else the stage's
    ``out_channels``), its output width is ``max(M, C)`` for an input of C channels (the running
    max of the widths). The identity is average-pooled (2x2, stride 2, ``ceil_mode``) where the
    layer has stride 2; identity and conv path (the last conv of the block) are both zero-padded
    at the back to the output width, added, then ReLU. A bypassed ``_h0`` layer needs stride 1.
  - ``pad_proj`` (Network Adjustment's ImageNet ResNets): as ``pad``, except that the first layer of
    a stage of stride 2 has a projection shortcut (1x1 conv + BN with the stride, to M) and output
    width M: the running width restarts there. At the seed widths of ``resnet18`` this is exactly
    torchvision's ResNet-18.

  :meth:`LayerInfo.conv_out` is M, ``LayerInfo.out_channels`` the output width and
  :meth:`LayerInfo.has_shortcut` is True for every layer with a parameter-free shortcut. Super- and
  elastic backbones build ``conv`` specs only.
* ``mbv1`` (MobileNetV1): 5 stages of depthwise-separable blocks ``k{kernel}`` with optional
  ``_c{out}``: ``kernel`` x ``kernel`` depthwise conv + BN + act, 1x1 pointwise conv + BN + act, no
  shortcut (``skip`` passes the input on). No head conv. Activation ``relu6`` (TF-slim's and timm's
  MobileNetV1, whose weights exist), ``relu`` (the paper's) or ``swish`` (DS-Net's public DS-MBNet).
* ``mbv3`` (MobileNetV3, EfficientNet): any number of stages of MBConv tokens as in ``mbv2``, where
  ``_se`` right after the expansion adds a squeeze-excitation between the depthwise and the linear
  conv (``k5e3_se``, ``k5e6_se_h120_c40``); ``_se{n}`` gives its squeeze width explicitly
  (``k7e3_se32_h80_c32``: NetAdaptV2 does not search it, its tables keep the max network's). The
  hidden width is ``round(in * expansion)`` as in ``mbv2`` (timm rounds to a multiple of 8; the
  seeds agree, write ``_h`` where a width must differ). A stage may set its own activation (``act: relu``; the
  spec's ``act`` covers the stem, the head and the other stages; ``relu``, ``relu6``, ``hswish`` or
  ``swish``). The spec-level ``se`` mapping says how every SE of the spec is built: its width is
  ``make_divisible(ratio * base, divisor)`` (timm / torchvision rounding; ``divisor: 1`` rounds to
  the nearest integer), ``base`` being the block's ``hidden`` width (``of: hidden``, MobileNetV3)
  or its input width (``of: in``, EfficientNet); ``act`` is the activation between its two 1x1
  convs and ``gate`` (``hsigmoid`` or ``sigmoid``) the activation of the scale::

      se: {ratio: 0.25, of: hidden, divisor: 8, act: relu, gate: hsigmoid}    # MobileNetV3
      se: {ratio: 0.25, of: in, divisor: 1, act: swish, gate: sigmoid}        # EfficientNet

  The optional spec-level ``shortcut`` rule of mbv3 specs is ``conv`` (the default: MobileNetV3's
  residuals, as for ``mbv2``) or ``pad`` (NetAdaptV2's residual blocks, App. B): every stride-1
  MBConv layer has a residual, whatever its widths (also the first layer of a stage). Its conv path
  width M is ``_c`` (else the stage's ``out_channels``; 0 for a removed body ``_h0``), its output
  width ``max(M, C)`` for an input of C channels; input and projection are both zero-padded at the
  back to that width and added. Stride-2 layers have no shortcut (their output is M, or the
  ``_b`` bypass's ``max(M, min(C, T))``); ``_b`` is not allowed on a stride-1 layer there.

Any spec may name the hidden layer of its family's ImageNet classifier, ``classifier: {hidden: 1280}``
(MobileNetV3: global pool, 1x1 conv with bias and activation, FC); without it the classifier is a
global pool and one FC. Only the cost of a classifier (:func:`mmadapt.cost.classifier_cost`) uses it.

Example (MobileNetV2, one line per stage, as :func:`describe` prints it)::

    stem c32 s2 | c16 s1 d1: k3e1 | c24 s2 d1: k3e6 k3e6 | ... | head c1280

and MobileNetV3-Large, where a stage's own activation follows its dilation::

    stem c16 s2 | c16 s1 d1 relu: k3e1 | c24 s2 d1 relu: k3e4 k3e3 | c40 s2 d1 relu: k5e3_se ...
"""
import copy
import json
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

FAMILIES = {
    # family -> number of stages (None: any), block type names, activations (the first is the
    # default), whether a head conv is allowed, and whether a super-backbone exists for it
    'mbv2': dict(num_stages=7, blocks=('mbconv', ), acts=('relu6', 'relu'), head=True, super=True),
    'resnet': dict(num_stages=None, blocks=('basic', 'bottleneck'), acts=('relu', ), head=False, super=True),
    'mbv1': dict(num_stages=5, blocks=('separable', ), acts=('relu6', 'relu', 'swish'), head=False, super=False),
    'mbv3': dict(num_stages=None, blocks=('mbconv', ), acts=('hswish', 'relu', 'relu6', 'swish'), head=True,
                 super=False),
}
ALLOWED_STRIDES = (1, 2)
# spec-level shortcut rule of residual blocks (see the module docstring); the first is the default
SHORTCUTS = ('conv', 'pad', 'pad_proj')
SHORTCUT_FAMILIES = ('resnet', 'mbv3')
# the shortcut rules each of those families allows
FAMILY_SHORTCUTS = {'resnet': SHORTCUTS, 'mbv3': ('conv', 'pad')}
SKIP = 'skip'
SE_GATES = ('hsigmoid', 'sigmoid')
SE_BASES = ('hidden', 'in')
# MobileNetV3's squeeze-excitation: the default of an mbv3 spec without an 'se' field
SE_DEFAULTS = dict(ratio=0.25, of='hidden', divisor=8, act='relu', gate='hsigmoid')

_MBCONV_RE = re.compile(r'^k(\d+)e(\d+(?:\.\d+)?)(?:_h(\d+))?(?:_d(\d+))?(?:_c(\d+))?(?:_b(\d+))?$')
_MBCONV_SE_RE = re.compile(r'^k(\d+)e(\d+(?:\.\d+)?)(_se(\d+)?)?(?:_h(\d+))?(?:_d(\d+))?(?:_c(\d+))?(?:_b(\d+))?$')
_RESBLOCK_RE = re.compile(r'^k(\d+)g(\d+)(?:_h(\d+))?(?:_c(\d+))?$')
_SEPARABLE_RE = re.compile(r'^k(\d+)(?:_c(\d+))?(?:_b(\d+))?$')
_TOKEN_HELP = {
    'mbv2': "'k{kernel}e{expansion}' (e.g. 'k5e6'), optional '_h{hidden}', '_c{out}' and '_b{bypass limit}' in "
            "this order, with a depthwise width '_d{depthwise}' after '_h' (e.g. 'k5e6_h96_d64_c24'), or 'skip'",
    'resnet': "'k{kernel}g{groups}' (e.g. 'k5g4'), optional '_h{hidden}' and '_c{out}', or 'skip'",
    'mbv1': "'k{kernel}' (e.g. 'k3'), optional '_c{out}' and '_b{bypass limit}', or 'skip'",
    'mbv3': "'k{kernel}e{expansion}' (e.g. 'k5e6'), then optional '_se', '_h{hidden}', '_c{out}' and '_b{bypass limit}' in "
            "this order (e.g. 'k5e3_se_c40'), with an explicit squeeze width '_se{squeeze}' and a depthwise width "
            "'_d{depthwise}' after '_h' (e.g. 'k7e3_se32_h80_d64_c32'), or 'skip'",
}
BUILTIN_DIR = osp.join(osp.dirname(__file__), 'specs')


class SpecError(ValueError):
    """A malformed architecture spec. The message names the spec, stage, layer and what is allowed."""


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to the nearest multiple of ``divisor``, at least ``divisor`` and not below 90%
    of ``value`` (the rule of the TF MobileNet code that timm and torchvision copy)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def se_width(base: int, se: Dict) -> int:
    """Width of a squeeze-excitation over ``base`` channels (see the module docstring)."""
    value = base * se['ratio']
    if se['divisor'] > 1:
        return make_divisible(value, se['divisor'])
    return max(1, int(round(value)))


@dataclass(frozen=True)
class Block:
    """One block (candidate op) of a layer. See the module docstring for the token grammar."""
    kind: str  # 'mbconv', 'resblock', 'separable' or 'skip'
    kernel: int = 0
    expansion: float = 0.0
    groups: int = 1
    hidden: Optional[int] = None
    out: Optional[int] = None
    se: bool = False  # squeeze-excitation (mbconv of an mbv3 spec)
    bypass: Optional[int] = None  # channel-level bypass limit T (mbconv, separable), see the module docstring
    depthwise: Optional[int] = None  # depthwise width '_d' (mbconv; None: the hidden width)
    squeeze: Optional[int] = None  # explicit squeeze width '_se{n}' (mbconv of an mbv3 spec; None: the SE rule)

    @property
    def is_skip(self) -> bool:
        return self.kind == 'skip'

    @property
    def token(self) -> str:
        if self.is_skip:
            return SKIP
        if self.kind == 'mbconv':
            e = self.expansion
            text = f'k{self.kernel}e{int(e) if float(e).is_integer() else e}'
            if self.se:
                text += '_se' if self.squeeze is None else f'_se{self.squeeze}'
        elif self.kind == 'separable':
            text = f'k{self.kernel}'
        else:
            text = f'k{self.kernel}g{self.groups}'
        if self.hidden is not None:
            text += f'_h{self.hidden}'
        if self.depthwise is not None:
            text += f'_d{self.depthwise}'
        if self.out is not None:
            text += f'_c{self.out}'
        if self.bypass is not None:
            text += f'_b{self.bypass}'
        return text

    def __str__(self) -> str:
        return self.token


def parse_block(token: str, family: str) -> Block:
    """Parse one block token of a ``family`` spec; raises :class:`SpecError` naming the token."""
    if not isinstance(token, str):
        raise SpecError(f'block must be a token string, got {token!r}; allowed: {_TOKEN_HELP[family]}')
    token = token.strip()
    if token == SKIP:
        return Block('skip')
    regex = {'mbv2': _MBCONV_RE, 'mbv3': _MBCONV_SE_RE, 'mbv1': _SEPARABLE_RE}.get(family, _RESBLOCK_RE)
    m = regex.match(token)
    if m is None:
        hint = ''
        if family == 'mbv2' and _MBCONV_SE_RE.match(token):
            hint = " (squeeze-excitation '_se' needs an mbv3 spec)"
        raise SpecError(f'unknown block token {token!r} for a {family} spec{hint}; allowed: {_TOKEN_HELP[family]}')
    kernel = int(m.group(1))
    if kernel < 1 or kernel % 2 == 0:
        raise SpecError(f'block {token!r}: kernel must be odd and positive (1, 3, 5, 7, ...), got {kernel}')
    has_bypass = family in ('mbv1', 'mbv2', 'mbv3')  # the last group of their regexes is '_b'
    bypass = int(m.groups()[-1]) if has_bypass and m.groups()[-1] is not None else None
    if bypass is not None and bypass < 1:
        raise SpecError(f'block {token!r}: bypass limit _b must be positive (leave it out for no bypass), '
                        f'got {bypass}')
    min_out = 0 if bypass is not None else 1
    if family == 'mbv1':
        out = None if m.group(2) is None else int(m.group(2))
        if out is not None and out < min_out:
            raise SpecError(f'block {token!r}: output width _c must be positive (0 only with a bypass _b), '
                            f'got {out}')
        return Block('separable', kernel=kernel, out=out, bypass=bypass)
    se, squeeze = False, None
    if family == 'mbv3':
        se = m.group(3) is not None
        squeeze = None if m.group(4) is None else int(m.group(4))
        fields = m.groups()[:2] + m.groups()[4:]  # without the '_se' groups
    else:
        fields = m.groups()
    if family in ('mbv2', 'mbv3'):  # k, e, h, d, c, b
        depthwise = None if fields[3] is None else int(fields[3])
        fields = fields[:3] + fields[4:]
    hidden = None if fields[2] is None else int(fields[2])
    out = None if fields[3] is None else int(fields[3])
    if out is not None and out < min_out:
        raise SpecError(f'block {token!r}: output width _c must be positive (0 only with a bypass _b), got {out}')
    if family in ('mbv2', 'mbv3'):
        expansion = float(fields[1])
        if expansion <= 0:
            raise SpecError(f'block {token!r}: expansion must be positive, got {fields[1]}')
        if expansion.is_integer():
            expansion = int(expansion)
        if squeeze is not None and squeeze < 1:
            raise SpecError(f"block {token!r}: squeeze width '_se{{n}}' must be positive (write '_se' for the "
                            f"spec's SE rule, or leave '_se' out for no squeeze-excitation), got {squeeze}")
        if depthwise is not None and depthwise < 1:
            raise SpecError(f"block {token!r}: depthwise width '_d' must be positive (0 < d <= hidden; remove "
                            f"the block body with '_h0'), got {depthwise}")
        return Block('mbconv', kernel=kernel, expansion=expansion, hidden=hidden, out=out, se=se, bypass=bypass,
                     depthwise=depthwise, squeeze=squeeze)
    groups = int(fields[1])
    if groups < 1:
        raise SpecError(f'block {token!r}: groups must be at least 1, got {groups}')
    return Block('resblock', kernel=kernel, groups=groups, hidden=hidden, out=out)


@dataclass
class Stage:
    """A stage: output width, stride of its first layer, dilation and layers of candidate blocks.

    ``act`` is the stage's own activation (mbv3 specs), ``None`` for the spec's.
    """
    out_channels: int
    stride: int
    layers: List[Tuple[Block, ...]]
    dilation: int = 1
    act: Optional[str] = None

    @property
    def depth(self) -> int:
        return len(self.layers)


@dataclass
class LayerInfo:
    """A layer resolved against its neighbours: input/output widths, stride and candidates."""
    index: int  # position among all layers of the spec
    stage: int
    layer: int  # position inside the stage
    in_channels: int
    out_channels: int
    stride: int
    dilation: int
    candidates: Tuple[Block, ...]
    act: Optional[str] = None  # activation of the layer's blocks (the stage's, else the spec's)
    stage_out: int = 0  # the stage's out_channels (the default width of its blocks)
    shortcut: str = 'conv'  # the spec's shortcut rule (resnet): 'conv', 'pad' or 'pad_proj'

    @property
    def padded(self) -> bool:
        """Whether the layer's residual blocks follow a zero-padding shortcut rule (``'pad'``, ``'pad_proj'``)."""
        return self.shortcut != 'conv'

    @property
    def padded_mbconv(self) -> bool:
        """Whether the layer is an MBConv layer of a ``shortcut: pad`` (mbv3) spec."""
        return self.padded and any(b.kind == 'mbconv' for b in self.candidates)

    @property
    def projection(self) -> bool:
        """Whether the layer's residual blocks have a projection shortcut under ``'pad_proj'``: the first
        layer of a stage of stride 2."""
        return self.shortcut == 'pad_proj' and self.first and self.stride != 1

    @property
    def first(self) -> bool:
        return self.layer == 0

    @property
    def searchable(self) -> bool:
        return len(self.candidates) > 1

    def hidden(self, block: Block, block_type: str = 'mbconv') -> int:
        """Hidden width of ``block`` in this layer (0 for a bypassed body or ``skip``)."""
        if block.is_skip:
            return 0
        if block.hidden is not None:
            return block.hidden
        if block.kind == 'mbconv':
            return int(round(self.in_channels * block.expansion))
        if block.kind == 'separable':
            return self.in_channels  # the depthwise conv's width
        width = self.conv_out(block)
        if block_type == 'bottleneck':
            return width // 4
        return width

    def depthwise(self, block: Block, block_type: str = 'mbconv') -> int:
        """Channels the depthwise conv of an MBConv ``block`` computes (``_d``, else its hidden width; the
        other hidden channels bypass it). 0 for a removed body or ``skip``."""
        hidden = self.hidden(block, block_type)
        if block.kind != 'mbconv' or block.depthwise is None or hidden == 0:
            return hidden
        return block.depthwise

    def conv_out(self, block: Block) -> int:
        """Width M of the block's conv path output: the layer's output width, except for a block with
        a channel-level bypass, whose output ``max(M, min(C, T))`` also holds bypassed input channels,
        and for a residual block under a zero-padding shortcut rule (``'pad'``, ``'pad_proj'``), whose
        conv path is ``_c`` (else the stage's width) and whose output ``max(M, C)`` may be wider (an
        MBConv of a ``shortcut: pad`` spec: 0 for a removed body)."""
        if block.bypass is None:
            if block.is_skip:
                return 0
            if self.padded and block.kind in ('resblock', 'mbconv'):
                return _conv_out(block, self.in_channels, self.stage_out, padded=True)
            return self.out_channels
        return _conv_out(block, self.in_channels, self.stage_out)

    def bypass_channels(self, block: Block) -> int:
        """min(C, T): the input channels a channel-level bypass can carry (0 without one)."""
        return 0 if block.bypass is None else min(self.in_channels, block.bypass)

    def has_shortcut(self) -> bool:
        """Whether the layer adds its input (identity, zero-padded when widths differ).

        The first layer of a stage keeps the original rule (stride 1 and equal widths); later layers
        always keep it, so that an explicit width change pads the identity instead of dropping it.
        Depthwise-separable (MobileNetV1) layers have none. Under a zero-padding shortcut rule every
        layer has a parameter-free one (average-pooled where the stride is 2), except the projection
        layers of ``'pad_proj'`` (:attr:`projection`); MBConv layers (mbv3 ``'pad'``) have one
        exactly where their stride is 1.
        """
        if any(b.kind == 'separable' or b.bypass is not None for b in self.candidates):
            return False
        if self.padded_mbconv:
            return self.stride == 1
        if self.padded:
            return not self.projection
        if self.stride != 1:
            return False
        return (not self.first) or self.in_channels == self.out_channels


@dataclass
class ArchSpec:
    """A backbone architecture: seed, super-net (several candidates per layer) or derived network."""
    family: str
    stem: Dict
    stages: List[Stage]
    head: Optional[Dict] = None
    name: str = 'unnamed'
    block_type: str = 'mbconv'
    act: str = 'relu6'
    in_channels: int = 3
    extra: Dict = field(default_factory=dict)
    se: Optional[Dict] = None  # squeeze-excitation rule (mbv3), see the module docstring
    classifier: Optional[Dict] = None  # {'hidden': n}: hidden layer of the family's classifier
    shortcut: str = 'conv'  # shortcut rule of residual blocks (resnet, mbv3), see the module docstring

    # -- structure ------------------------------------------------------------------------------
    def layers(self) -> List[LayerInfo]:
        """All layers in order, with widths resolved (``_c`` suffixes and ``skip`` included)."""
        infos = []
        in_ch = self.stem['out_channels']
        index = 0
        for s, stage in enumerate(self.stages):
            for j, cands in enumerate(stage.layers):
                proj = self.shortcut == 'pad_proj' and j == 0 and stage.stride != 1
                stride = stage.stride if j == 0 else 1
                outs = {_block_out(b, in_ch, stage.out_channels, self.shortcut, proj, stride) for b in cands}
                out_ch = outs.pop() if len(outs) == 1 else -1
                infos.append(LayerInfo(index, s, j, in_ch, out_ch, stage.stride if j == 0 else 1,
                                       stage.dilation, tuple(cands), stage.act or self.act, stage.out_channels,
                                       self.shortcut))
                in_ch = out_ch
                index += 1
        return infos

    def stage_out_channels(self) -> List[int]:
        """Output width of each stage (the last layer's output)."""
        outs = [0] * len(self.stages)
        for info in self.layers():
            outs[info.stage] = info.out_channels
        return outs

    def stage_strides(self) -> List[int]:
        """Cumulative stride (input / feature size) at the output of each stage."""
        stride = self.stem['stride'] * (2 if self.stem.get('pool') else 1)
        strides = []
        for stage in self.stages:
            stride *= stage.stride
            strides.append(stride)
        return strides

    def se_channels(self, info: LayerInfo, block: Block) -> int:
        """Width of the squeeze-excitation of ``block`` in layer ``info`` (0 without one)."""
        if not block.se or block.is_skip or self.se is None:
            return 0
        hidden = info.hidden(block, self.block_type)
        if hidden == 0:
            return 0
        if block.squeeze is not None:
            return block.squeeze
        return se_width(hidden if self.se['of'] == 'hidden' else info.in_channels, self.se)

    def searchable_layers(self) -> List[LayerInfo]:
        return [info for info in self.layers() if info.searchable]

    @property
    def is_derived(self) -> bool:
        """True when every layer has exactly one block."""
        return all(len(c) == 1 for stage in self.stages for c in stage.layers)

    def num_paths(self) -> int:
        n = 1
        for info in self.searchable_layers():
            n *= len(info.candidates)
        return n

    # -- conversion -----------------------------------------------------------------------------
    def to_dict(self) -> Dict:
        d = {'name': self.name, 'family': self.family}
        if len(FAMILIES[self.family]['blocks']) > 1:
            d['block'] = self.block_type
        d['act'] = self.act
        if self.shortcut != SHORTCUTS[0]:
            d['shortcut'] = self.shortcut
        if self.in_channels != 3:
            d['in_channels'] = self.in_channels
        if self.se is not None:
            d['se'] = dict(self.se)
        d['stem'] = dict(self.stem)
        d['stages'] = []
        for stage in self.stages:
            sd = {'out_channels': stage.out_channels, 'stride': stage.stride}
            if stage.dilation != 1:
                sd['dilation'] = stage.dilation
            if stage.act is not None:
                sd['act'] = stage.act
            sd['blocks'] = ['|'.join(b.token for b in cands) for cands in stage.layers]
            d['stages'].append(sd)
        if self.head is not None:
            d['head'] = dict(self.head)
        if self.classifier is not None:
            d['classifier'] = dict(self.classifier)
        if self.extra:
            d['extra'] = copy.deepcopy(self.extra)
        return d

    def copy(self) -> 'ArchSpec':
        return spec_from_dict(self.to_dict())

    def with_layers(self, choices: Dict[int, int]) -> 'ArchSpec':
        """A copy where layer ``index`` keeps only candidate ``choices[index]`` (others unchanged)."""
        d = self.to_dict()
        infos = self.layers()
        for info in infos:
            if info.index in choices:
                c = choices[info.index]
                if not 0 <= c < len(info.candidates):
                    raise SpecError(f'{_where(self.name, info.stage, info.layer)}: choice {c} out of range; '
                                    f'the layer has {len(info.candidates)} candidates '
                                    f'{[b.token for b in info.candidates]}')
                d['stages'][info.stage]['blocks'][info.layer] = info.candidates[c].token
        return spec_from_dict(d)

    def describe(self) -> str:
        """One line: stem, each stage as ``c{out} s{stride} d{dilation} [act]: blocks``, head.

        A stage's activation is printed only where the stage sets its own (mbv3 specs); a shortcut
        rule other than ``'conv'`` leads the line (``shortcut pad | stem c16 s1 | ...``).
        """
        parts = [] if self.shortcut == SHORTCUTS[0] else [f'shortcut {self.shortcut}']
        parts.append(f"stem c{self.stem['out_channels']} s{self.stem['stride']}")
        for stage in self.stages:
            blocks = ' '.join('|'.join(b.token for b in c) for c in stage.layers)
            act = f' {stage.act}' if stage.act is not None else ''
            parts.append(f'c{stage.out_channels} s{stage.stride} d{stage.dilation}{act}: {blocks}')
        if self.head is not None:
            parts.append(f"head c{self.head['out_channels']}")
        return ' | '.join(parts)

    def __str__(self) -> str:
        return f'{self.name}: {self.describe()}'


def _conv_out(block: Block, in_ch: int, stage_out: int, padded: bool = False) -> int:
    """Width of the block's conv path output (0 when the body of a bypassed block, or of an MBConv
    under a zero-padding shortcut rule, is removed)."""
    if block.is_skip:
        return 0
    if block.kind == 'mbconv' and (block.bypass is not None or padded):
        hidden = block.hidden if block.hidden is not None else int(round(in_ch * block.expansion))
        if hidden == 0:
            return 0
    return block.out if block.out is not None else stage_out


def _block_out(block: Block, in_ch: int, stage_out: int, shortcut: str = 'conv', projection: bool = False,
               stride: int = 1) -> int:
    """Output width of a block; ``shortcut`` is the spec's rule, ``projection`` whether the layer
    has a projection shortcut under ``'pad_proj'`` and ``stride`` the layer's stride."""
    if block.is_skip:
        return in_ch
    if block.bypass is not None:  # channel-level bypass: max(M, min(C, T))
        return max(_conv_out(block, in_ch, stage_out), min(in_ch, block.bypass))
    if shortcut != 'conv' and block.kind == 'mbconv' and stride == 1:  # zero-padded residual: max(M, C)
        return max(_conv_out(block, in_ch, stage_out, padded=True), in_ch)
    width = block.out if block.out is not None else stage_out
    if shortcut != 'conv' and block.kind == 'resblock' and not projection:
        return max(width, in_ch)  # zero-padded shortcut: the running max of the widths
    return width


def _where(name: str, stage: Optional[int] = None, layer: Optional[int] = None, what: str = 'spec') -> str:
    text = f'{what} {name!r}'
    if stage is not None:
        text += f': stage {stage}'
    if layer is not None:
        text += f' layer {layer}'
    return text


def _check_keys(d: Dict, allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        raise SpecError(f'{where}: unknown field(s) {unknown}; allowed: {sorted(allowed)}')


def _positive_int(value, what: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f'{where}: {what} must be an integer >= {minimum}, got {value!r}')
    return value


def spec_from_dict(d: Dict) -> 'ArchSpec':
    """Build and validate a spec from plain data (as loaded from JSON / YAML)."""
    if isinstance(d, ArchSpec):
        return d
    if not isinstance(d, dict):
        raise SpecError(f'a spec must be a mapping, got {type(d).__name__}')
    name = str(d.get('name', 'unnamed'))
    where = _where(name)
    _check_keys(d, ('name', 'family', 'block', 'act', 'shortcut', 'in_channels', 'se', 'stem', 'stages', 'head',
                    'classifier', 'extra'), where)
    for key in ('family', 'stem', 'stages'):
        if key not in d:
            raise SpecError(f'{where}: missing field {key!r}')
    family = d['family']
    if family not in FAMILIES:
        with_super = [f for f, v in FAMILIES.items() if v['super']]
        without = [f for f, v in FAMILIES.items() if not v['super']]
        raise SpecError(f'{where}: unknown family {family!r}; allowed: {with_super}, and {without} '
                        '(derived networks only: no super-backbone yet)')
    info = FAMILIES[family]
    block_type = d.get('block', info['blocks'][0] if len(info['blocks']) == 1 else None)
    if block_type not in info['blocks']:
        raise SpecError(f"{where}: field 'block' is {block_type!r}; a {family} spec allows {list(info['blocks'])}")
    act = d.get('act', info['acts'][0])
    if act not in info['acts']:
        raise SpecError(f"{where}: activation {act!r} not allowed; a {family} spec allows {list(info['acts'])}")
    in_channels = _positive_int(d.get('in_channels', 3), 'in_channels', where)
    shortcut = d.get('shortcut')
    if shortcut is not None and family not in SHORTCUT_FAMILIES:
        raise SpecError(f"{where}: field 'shortcut' is only defined for {list(SHORTCUT_FAMILIES)} specs, not {family}")
    if shortcut is None:
        shortcut = SHORTCUTS[0]
    if shortcut not in FAMILY_SHORTCUTS.get(family, SHORTCUTS):
        if family == 'mbv3':
            raise SpecError(f"{where}: shortcut {shortcut!r} not allowed for a mbv3 spec; allowed: "
                            f"{list(FAMILY_SHORTCUTS['mbv3'])} (MobileNetV3's residuals; NetAdaptV2's zero-padded "
                            'residual on every stride-1 layer)')
        raise SpecError(f"{where}: shortcut {shortcut!r} not allowed; allowed: {list(SHORTCUTS)} (projection "
                        "convs; parameter-free zero-padded shortcuts; zero-padded with projections at the "
                        "stride-2 stage starts)")
    se = _parse_se(d.get('se'), family, where)
    classifier = d.get('classifier')
    if classifier is not None:
        if not isinstance(classifier, dict):
            raise SpecError(f'{where}: classifier must be a mapping like {{hidden: 1280}}, got {classifier!r}')
        _check_keys(classifier, ('hidden', ), f'{where}: classifier')
        if 'hidden' in classifier:
            _positive_int(classifier['hidden'], 'hidden', f'{where}: classifier')
        classifier = dict(classifier)

    stem = d['stem']
    if not isinstance(stem, dict):
        raise SpecError(f'{where}: stem must be a mapping, got {stem!r}')
    _check_keys(stem, ('out_channels', 'kernel', 'stride', 'pool'), f'{where}: stem')
    stem = dict(stem)
    if 'out_channels' not in stem:
        raise SpecError(f"{where}: stem: missing field 'out_channels'")
    _positive_int(stem['out_channels'], 'out_channels', f'{where}: stem')
    stem.setdefault('kernel', 7 if family == 'resnet' else 3)
    stem.setdefault('stride', 2)
    if family == 'resnet':
        stem.setdefault('pool', True)
    k = _positive_int(stem['kernel'], 'kernel', f'{where}: stem')
    if k % 2 == 0:
        raise SpecError(f'{where}: stem: kernel must be odd, got {k}')
    if stem['stride'] not in ALLOWED_STRIDES:
        raise SpecError(f"{where}: stem: stride {stem['stride']!r} not allowed; allowed: {list(ALLOWED_STRIDES)}")

    stages_d = d['stages']
    if not isinstance(stages_d, list):
        raise SpecError(f'{where}: stages must be a list, got {type(stages_d).__name__}')
    n = info['num_stages']
    if n is None and not stages_d:
        raise SpecError(f'{where}: a {family} spec needs at least 1 stage, got 0')
    if n is not None and len(stages_d) != n:
        raise SpecError(f'{where}: a {family} spec needs {n} stages, got {len(stages_d)}'
                        + (f' (missing stage {len(stages_d)})' if len(stages_d) < n else ''))
    stage_keys = ('out_channels', 'stride', 'dilation', 'blocks') + (('act', ) if family == 'mbv3' else ())
    stages = []
    for s, sd in enumerate(stages_d):
        sw = _where(name, s)
        if not isinstance(sd, dict):
            raise SpecError(f'{sw}: must be a mapping with out_channels, stride, blocks; got {sd!r}')
        _check_keys(sd, stage_keys, sw)
        for key in ('out_channels', 'stride', 'blocks'):
            if key not in sd:
                raise SpecError(f'{sw}: missing field {key!r}')
        out_ch = _positive_int(sd['out_channels'], 'out_channels', sw)
        stride = sd['stride']
        if stride not in ALLOWED_STRIDES:
            raise SpecError(f'{sw}: stride {stride!r} not allowed; allowed: {list(ALLOWED_STRIDES)}')
        dilation = _positive_int(sd.get('dilation', 1), 'dilation', sw)
        stage_act = sd.get('act')
        if stage_act is not None and stage_act not in info['acts']:
            raise SpecError(f"{sw}: activation {stage_act!r} not allowed; a {family} spec allows {list(info['acts'])}")
        blocks = sd['blocks']
        if not isinstance(blocks, list) or not blocks:
            raise SpecError(f'{sw}: blocks must be a non-empty list of tokens, got {blocks!r}')
        layers = []
        for j, entry in enumerate(blocks):
            lw = _where(name, s, j)
            tokens = entry.split('|') if isinstance(entry, str) else entry
            if not isinstance(tokens, (list, tuple)) or not tokens:
                raise SpecError(f'{lw}: expected a token or a list of candidate tokens, got {entry!r}')
            cands = []
            for t in tokens:
                try:
                    cands.append(parse_block(t, family))
                except SpecError as e:
                    raise SpecError(f'{lw}: {e}') from None
            if len({b.token for b in cands}) != len(cands):
                raise SpecError(f'{lw}: duplicate candidates in {[b.token for b in cands]}')
            layers.append(tuple(cands))
        stages.append(Stage(out_ch, stride, layers, dilation, stage_act))

    head = d.get('head')
    if head is not None:
        if not isinstance(head, dict):
            raise SpecError(f'{where}: head must be a mapping with out_channels, got {head!r}')
        _check_keys(head, ('out_channels', ), f'{where}: head')
        if 'out_channels' not in head:
            raise SpecError(f"{where}: head: missing field 'out_channels'")
        _positive_int(head['out_channels'], 'out_channels', f'{where}: head')
        head = dict(head)
        if not info['head']:
            heads = [f for f, v in FAMILIES.items() if v['head']]
            raise SpecError(f'{where}: a head conv is only defined for {heads} specs, not {family}')
    spec = ArchSpec(family=family, stem=stem, stages=stages, head=head, name=name,
                    block_type=block_type, act=act, in_channels=in_channels,
                    extra=copy.deepcopy(d.get('extra') or {}), se=se, classifier=classifier, shortcut=shortcut)
    validate(spec)
    return spec


def _parse_se(se, family: str, where: str) -> Optional[Dict]:
    """The normalised squeeze-excitation rule of a spec: every field present (mbv3), else None."""
    if family != 'mbv3':
        if se is not None:
            raise SpecError(f"{where}: field 'se' is only defined for mbv3 specs, not {family}")
        return None
    sw = f'{where}: se'
    if se is None:
        se = {}
    if not isinstance(se, dict):
        raise SpecError(f'{sw}: must be a mapping with fields {sorted(SE_DEFAULTS)}, got {se!r}')
    _check_keys(se, tuple(SE_DEFAULTS), sw)
    out = dict(SE_DEFAULTS, **se)
    ratio = out['ratio']
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise SpecError(f'{sw}: ratio must be a number in (0, 1], got {ratio!r}')
    if out['of'] not in SE_BASES:
        raise SpecError(f"{sw}: of {out['of']!r} not allowed; allowed: {list(SE_BASES)} (the block's "
                        'hidden width, MobileNetV3, or its input width, EfficientNet)')
    _positive_int(out['divisor'], 'divisor', sw)
    if out['act'] not in FAMILIES[family]['acts']:
        raise SpecError(f"{sw}: activation {out['act']!r} not allowed; allowed: {list(FAMILIES[family]['acts'])}")
    if out['gate'] not in SE_GATES:
        raise SpecError(f"{sw}: gate {out['gate']!r} not allowed; allowed: {list(SE_GATES)}")
    return out


def validate(spec: ArchSpec) -> None:
    """Check widths, strides, groups and ``skip`` placement layer by layer."""
    for info in spec.layers():
        lw = _where(spec.name, info.stage, info.layer)
        if info.out_channels < 0:
            outs = {b.token: _block_out(b, info.in_channels, spec.stages[info.stage].out_channels, spec.shortcut,
                                        info.projection, info.stride)
                    for b in info.candidates}
            raise SpecError(f'{lw}: candidates produce different output widths {outs}; all candidates of '
                            'a layer must have the same output width')
        for b in info.candidates:
            if b.is_skip:
                if info.first:
                    raise SpecError(f"{lw}: 'skip' is not allowed in the first layer of a stage (it sets the "
                                    f'stride and the width); allowed there: {_TOKEN_HELP[spec.family]} '
                                    "without 'skip'")
                continue
            hidden = info.hidden(b, spec.block_type)
            if b.depthwise is not None and b.depthwise > hidden:
                raise SpecError(f"{lw}: {b.token!r}: depthwise width '_d{b.depthwise}' is wider than the block's "
                                f'hidden width {hidden}; allowed: 0 < d <= hidden (the depthwise conv computes the '
                                'first d hidden channels, the others bypass it)')
            if hidden == 0 and b.hidden is None:
                raise SpecError(f'{lw}: {b.token!r}: expansion {b.expansion} of {info.in_channels} input channels '
                                'rounds to a hidden width of 0; write the bypassed layer explicitly as '
                                f"'{b.token.split('_')[0]}_h0', or use a larger expansion")
            if b.bypass is not None:
                if b.kind == 'mbconv' and (not info.first or (info.padded and info.stride == 1)):
                    raise SpecError(f"{lw}: {b.token!r}: '_b' (channel-level bypass) is for layers without a residual "
                                    "shortcut; here the shortcut is the bypass (remove the block's body with '_h0')")
                if b.kind == 'mbconv' and hidden > 0 and info.conv_out(b) == 0:
                    raise SpecError(f"{lw}: {b.token!r}: conv path width 0 with hidden width {hidden}; write '_h0' "
                                    'to remove the body')
                continue
            if hidden == 0 and (not info.has_shortcut() or info.stride != 1):
                raise SpecError(f'{lw}: {b.token!r} has hidden width 0 (bypassed) but the layer has no '
                                f'shortcut of stride 1 (stride {info.stride}, {info.in_channels} -> '
                                f'{info.out_channels} channels); a bypassed layer needs stride 1 and must not be '
                                'the first layer of a stage that changes width')
            if b.kind == 'resblock' and hidden > 0:
                g = b.groups
                conv_in = info.in_channels if spec.block_type == 'basic' else hidden
                if conv_in % g or hidden % g:
                    raise SpecError(f'{lw}: {b.token!r}: {g} groups do not divide the conv widths '
                                    f'{conv_in} -> {hidden}; allowed: a number of groups dividing both')


# -- files ----------------------------------------------------------------------------------------
def builtin_specs() -> List[str]:
    """Names of the specs that ship with mmadapt (``mmadapt/arch/specs/*.yaml``)."""
    import glob
    return sorted(osp.splitext(osp.basename(p))[0] for p in glob.glob(osp.join(BUILTIN_DIR, '*.yaml')))


def load_spec(source: Union[str, Dict, ArchSpec]) -> ArchSpec:
    """Load a spec from a built-in name, a ``.json`` / ``.yaml`` file, a dict or a spec.

    Args:
        source: e.g. ``'mobilenet_v2'``, ``'fna_mbv2_det'``, ``'work_dirs/x/derived.yaml'``, or the
            mapping itself (as written inline in a config).
    """
    if isinstance(source, ArchSpec):
        return source
    if isinstance(source, dict):
        return spec_from_dict(source)
    if not isinstance(source, str):
        raise SpecError(f'cannot load a spec from {type(source).__name__}; give a name, a path or a dict')
    path = source
    if not osp.exists(path):
        candidate = osp.join(BUILTIN_DIR, source + '.yaml')
        if osp.exists(candidate):
            path = candidate
        else:
            raise SpecError(f'spec {source!r} is neither a file nor a built-in spec; built-in specs: '
                            f'{builtin_specs()}')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        if path.endswith('.json'):
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except Exception as e:  # noqa: BLE001  (report any parser error with the file name)
        raise SpecError(f'cannot parse spec file {path}: {e}') from None
    try:
        return spec_from_dict(data)
    except SpecError as e:
        raise SpecError(f'{path}: {e}') from None


def dump_spec(spec: ArchSpec, path: Optional[str] = None, fmt: Optional[str] = None) -> str:
    """Serialise a spec to JSON or YAML text; write it to ``path`` when given (atomically).

    The format is ``fmt`` ('json' or 'yaml'), else taken from the file extension, else YAML.
    """
    if fmt is None:
        fmt = 'json' if path is not None and path.endswith('.json') else 'yaml'
    if fmt not in ('json', 'yaml'):
        raise ValueError(f"fmt must be 'json' or 'yaml', got {fmt!r}")
    d = spec.to_dict()
    if fmt == 'json':
        text = json.dumps(d, indent=2) + '\n'
    else:
        text = _to_yaml(d)
    if path is not None:
        from mmadapt.utils.fileio import atomic_write_text
        atomic_write_text(path, text)
    return text


def _to_yaml(d: Dict) -> str:
    """YAML with one flow-style line per stage, so that a spec reads like a table."""
    import yaml

    def flow(x):
        return yaml.safe_dump(x, default_flow_style=True, width=10**6, sort_keys=False).strip()

    lines = []
    for key, value in d.items():
        if key == 'stages':
            lines.append('stages:')
            lines.extend(f'- {flow(stage)}' for stage in value)
        elif isinstance(value, dict):
            lines.append(f'{key}: {flow(value)}')
        else:
            lines.append(yaml.safe_dump({key: value}, sort_keys=False).strip())
    return '\n'.join(lines) + '\n'
