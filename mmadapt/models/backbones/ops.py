"""Blocks that specs are built from: MBConv (with optional squeeze-excitation), ResNet basic /
bottleneck blocks, MobileNetV1's depthwise-separable block, skip, search layers.

Every block is a plain module of static convolutions. The search machinery (several candidates and
their mixture) lives only in :class:`SearchLayer`, so a derived network holds none of it. Child
names are part of the state-dict keys (and of the weight-sharing modules that slice them by name):
``expand_conv`` / ``depthwise_conv`` / ``se`` (``conv_reduce``, ``conv_expand``) / ``linear_conv``,
``depthwise_conv`` / ``pointwise_conv``, ``conv1`` .. ``conv3`` / ``downsample``.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer

from mmadapt.arch import ArchSpec, Block, LayerInfo

# spec activation names -> mmcv activation configs (HSwish and SiLU are torch's Hardswish and SiLU)
ACTIVATIONS = {
    'relu': dict(type='ReLU'),
    'relu6': dict(type='ReLU6'),
    'hswish': dict(type='HSwish'),
    'swish': dict(type='SiLU'),
}
SE_GATES = {'hsigmoid': nn.Hardsigmoid, 'sigmoid': nn.Sigmoid}


def act_cfg_for(name: str) -> dict:
    """The mmcv activation config of a spec activation name (``'relu'``, ``'hswish'``...)."""
    if name not in ACTIVATIONS:
        raise ValueError(f'unknown activation {name!r}; allowed: {sorted(ACTIVATIONS)}')
    return dict(ACTIVATIONS[name])


def match_width(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Zero-pad (or keep the leading) channels of ``x`` (N, C, H, W) so that it has ``channels``."""
    c = x.shape[1]
    if c == channels:
        return x
    if c > channels:
        return x[:, :channels]
    return F.pad(x, (0, 0, 0, 0, 0, channels - c))


def channel_bypass(y: Optional[torch.Tensor], x: torch.Tensor, kept: int, limit: int, stride: int = 1
                   ) -> torch.Tensor:
    """Channel-level bypass (NetAdaptV2 App. C): output channel j < ``kept`` is channel j of the conv
    path ``y``, ``kept <= j < min(C, limit)`` is input channel j of ``x`` (subsampled by ``stride``:
    the centre tap of a strided 1x1 delta kernel), so the output has ``max(kept, min(C, limit))``
    channels. ``kept == 0`` with ``limit >= C`` and stride 1 is exactly the identity.
    """
    c = min(x.shape[1], limit)
    z = x[:, kept:c]
    if stride > 1:
        z = z[:, :, ::stride, ::stride]
    if y is None or kept == 0:
        return z
    return y if z.shape[1] == 0 else torch.cat([y, z], 1)


class Skip(nn.Module):
    """The ``skip`` op of depth search: returns its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def extra_repr(self) -> str:
        return 'skip'


class SqueezeExcitation(nn.Module):
    """Squeeze-excitation (Hu et al.; MobileNetV3 Sec. 5.3): ``x * gate(conv_expand(act(conv_reduce(pool(x)))))``.

    Args:
        channels: width of the input (N, channels, H, W) and of the scale.
        squeeze_channels: width between the two 1x1 convs (both with bias).
        act_cfg: activation between the convs (mmcv config). gate: ``'hsigmoid'`` (MobileNetV3,
            ``relu6(x + 3) / 6``) or ``'sigmoid'`` (EfficientNet).
    """

    def __init__(self, channels: int, squeeze_channels: int, act_cfg: Optional[dict] = None,
                 gate: str = 'hsigmoid'):
        super().__init__()
        if gate not in SE_GATES:
            raise ValueError(f'gate must be one of {sorted(SE_GATES)}, got {gate!r}')
        if channels < 1 or squeeze_channels < 1:
            raise ValueError(f'SE widths must be positive, got {channels} -> {squeeze_channels}')
        self.channels, self.squeeze_channels, self.gate_type = channels, squeeze_channels, gate
        self.conv_reduce = nn.Conv2d(channels, squeeze_channels, 1, bias=True)
        self.act = build_activation_layer(dict(act_cfg or dict(type='ReLU')))
        self.conv_expand = nn.Conv2d(squeeze_channels, channels, 1, bias=True)
        self.gate = SE_GATES[gate]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        scale = self.gate(self.conv_expand(self.act(self.conv_reduce(scale))))
        return x * scale

    def extra_repr(self) -> str:
        return f'{self.channels}->{self.squeeze_channels}->{self.channels}, gate={self.gate_type}'


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand] -> k x k depthwise -> [squeeze-excitation] -> 1x1 linear projection.

    MobileNetV2's block, and MobileNetV3's / EfficientNet's with ``se_channels > 0``.

    Args:
        in_channels / out_channels: widths of input and output.
        kernel: kernel of the depthwise conv. stride / dilation: of the depthwise conv.
        hidden: width of the depthwise conv's input and output; 0 bypasses the body (the output is the
            shortcut).
        expand: whether there is a 1x1 expansion conv (without it, ``hidden == in_channels``).
        depthwise: channels the depthwise conv computes (``_d``, default ``hidden``): the leading ones;
            the other hidden channels pass it unchanged (subsampled by its stride), and the
            squeeze-excitation and the projection read all ``hidden`` channels.
        shortcut: add the input, zero-padded / cut to ``out_channels`` if widths differ (a projection
            ``conv_out`` narrower than ``out_channels`` is zero-padded too: ``shortcut: pad`` specs).
        act_cfg: activation after the expansion and the depthwise conv.
        se_channels: width of the squeeze-excitation after the depthwise conv (0: none).
        se_act_cfg / se_gate: activation and gate of the squeeze-excitation.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 dilation: int = 1, hidden: Optional[int] = None, expand: bool = True,
                 shortcut: bool = False, norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None,
                 token: str = '', se_channels: int = 0, se_act_cfg: Optional[dict] = None,
                 se_gate: str = 'hsigmoid', bypass: Optional[int] = None, conv_out: Optional[int] = None,
                 depthwise: Optional[int] = None):
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        act_cfg = act_cfg or dict(type='ReLU6')
        hidden = in_channels if hidden is None else hidden
        if not expand and hidden != in_channels:
            raise ValueError(f'MBConv without expansion needs hidden == in_channels ({in_channels}), '
                             f'got {hidden}')
        depthwise = hidden if depthwise is None else depthwise
        if not (0 < depthwise <= hidden or depthwise == hidden == 0):
            raise ValueError(f'MBConv depthwise width must be in 1..hidden ({hidden}), got {depthwise}')
        self.in_channels, self.out_channels, self.hidden = in_channels, out_channels, hidden
        self.depthwise = depthwise
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.shortcut = shortcut
        self.token = token
        self.se = None
        self.bypass = bypass
        self.conv_out = out_channels if conv_out is None else conv_out
        if bypass is not None and shortcut:
            raise ValueError('an MBConv has a residual shortcut or a channel-level bypass, not both')
        if hidden == 0:
            if not shortcut and bypass is None:
                raise ValueError('a bypassed MBConv (hidden 0) needs a shortcut or a channel-level bypass')
            self.expand_conv = self.depthwise_conv = self.linear_conv = None
            return
        self.expand_conv = ConvModule(in_channels, hidden, 1, norm_cfg=norm_cfg,
                                      act_cfg=act_cfg) if expand else None
        self.depthwise_conv = ConvModule(depthwise, depthwise, kernel, stride=stride,
                                         padding=dilation * (kernel - 1) // 2, dilation=dilation,
                                         groups=depthwise, norm_cfg=norm_cfg, act_cfg=act_cfg)
        if se_channels > 0:
            self.se = SqueezeExcitation(hidden, se_channels, act_cfg=se_act_cfg, gate=se_gate)
        self.linear_conv = ConvModule(hidden, self.conv_out, 1, norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.linear_conv is None:
            if self.bypass is not None:
                return channel_bypass(None, x, 0, self.bypass, self.stride)
            return match_width(x, self.out_channels)
        y = x if self.expand_conv is None else self.expand_conv(x)
        if self.depthwise < self.hidden:  # hidden channels depthwise.. bypass the depthwise conv
            y = channel_bypass(self.depthwise_conv(y[:, :self.depthwise]), y, self.depthwise, self.hidden,
                               self.stride)
        else:
            y = self.depthwise_conv(y)
        if self.se is not None:
            y = self.se(y)
        y = self.linear_conv(y)
        if self.shortcut:
            y = match_width(y, self.out_channels) + match_width(x, self.out_channels)
        if self.bypass is not None:
            y = channel_bypass(y, x, self.conv_out, self.bypass, self.stride)
        return y

    def extra_repr(self) -> str:
        dw = f' (depthwise {self.depthwise})' if self.depthwise != self.hidden else ''
        return (f'{self.token or "mbconv"}: {self.in_channels}->{self.hidden}{dw}->{self.out_channels}, '
                f'stride={self.stride}, dilation={self.dilation}, shortcut={self.shortcut}')


class DepthwiseSeparable(nn.Module):
    """MobileNetV1's block: k x k depthwise conv + BN + act, 1x1 pointwise conv + BN + act; no shortcut.

    Args:
        in_channels / out_channels: widths of input (and of the depthwise conv) and output.
        kernel / stride / dilation: of the depthwise conv.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1,
                 dilation: int = 1, norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None,
                 token: str = '', bypass: Optional[int] = None, conv_out: Optional[int] = None):
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        act_cfg = act_cfg or dict(type='ReLU')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel, self.stride, self.dilation, self.token = kernel, stride, dilation, token
        self.bypass = bypass
        self.conv_out = out_channels if conv_out is None else conv_out
        if self.conv_out == 0 and bypass is None:
            raise ValueError('a depthwise-separable block of width 0 needs a channel-level bypass')
        self.depthwise_conv = self.pointwise_conv = None
        if self.conv_out > 0:
            self.depthwise_conv = ConvModule(in_channels, in_channels, kernel, stride=stride,
                                             padding=dilation * (kernel - 1) // 2, dilation=dilation,
                                             groups=in_channels, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.pointwise_conv = ConvModule(in_channels, self.conv_out, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = None if self.pointwise_conv is None else self.pointwise_conv(self.depthwise_conv(x))
        if self.bypass is not None:
            return channel_bypass(y, x, self.conv_out, self.bypass, self.stride)
        return y

    def extra_repr(self) -> str:
        return (f'{self.token or "separable"}: {self.in_channels}->{self.out_channels}, '
                f'stride={self.stride}, dilation={self.dilation}')


class ResBlock(nn.Module):
    """ResNet basic or bottleneck block whose searchable conv has ``kernel`` and ``groups``.

    Basic: k x k (groups, stride) -> 3 x 3. Bottleneck: 1x1 -> k x k (groups, stride, dilation) -> 1x1.
    The shortcut is a 1x1 conv + BN (with the stride, to ``conv_out``) where ``shortcut == 'conv'``,
    the identity where ``'identity'``: average-pooled (2x2, stride 2, ``ceil_mode`` so that odd sizes
    give the conv's output size) with ``pool_identity``. Shortcut and conv path are zero-padded at the
    back (or cut) to ``out_channels`` where their widths differ, added, and the sum goes through ReLU.

    Args:
        out_channels: width of the block's output.
        conv_out: width of the conv path (the last conv; default ``out_channels``), narrower than the
            output under the zero-padded shortcuts of Network Adjustment (``shortcut: pad`` specs).
        pool_identity: the identity shortcut of a stride-2 block is a 2x2 average pool (``'pad'``
            specs); without it an identity shortcut needs stride 1.
    """

    def __init__(self, block_type: str, in_channels: int, out_channels: int, kernel: int = 3,
                 groups: int = 1, hidden: Optional[int] = None, stride: int = 1, dilation: int = 1,
                 shortcut: str = 'identity', norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None, token: str = '', conv_out: Optional[int] = None,
                 pool_identity: bool = False):
        super().__init__()
        if block_type not in ('basic', 'bottleneck'):
            raise ValueError(f"block_type must be 'basic' or 'bottleneck', got {block_type!r}")
        if shortcut not in ('conv', 'identity'):
            raise ValueError(f"shortcut must be 'conv' or 'identity', got {shortcut!r}")
        if pool_identity and (shortcut != 'identity' or stride != 2):
            raise ValueError(f'pool_identity is the identity shortcut of a stride-2 block; got shortcut '
                             f'{shortcut!r}, stride {stride}')
        norm_cfg = norm_cfg or dict(type='BN')
        act_cfg = act_cfg or dict(type='ReLU')
        conv_out = out_channels if conv_out is None else conv_out
        if hidden is None:
            hidden = conv_out // 4 if block_type == 'bottleneck' else conv_out
        self.block_type, self.in_channels, self.out_channels = block_type, in_channels, out_channels
        self.conv_out = conv_out
        self.hidden, self.kernel, self.groups = hidden, kernel, groups
        self.stride, self.dilation, self.token = stride, dilation, token
        pad = dilation * (kernel - 1) // 2
        self.conv1 = self.conv2 = self.conv3 = None
        if hidden > 0 and block_type == 'basic':
            self.conv1 = ConvModule(in_channels, hidden, kernel, stride=stride, padding=pad, dilation=dilation,
                                    groups=groups, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.conv2 = ConvModule(hidden, conv_out, 3, padding=1, norm_cfg=norm_cfg, act_cfg=None)
        elif hidden > 0:
            self.conv1 = ConvModule(in_channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.conv2 = ConvModule(hidden, hidden, kernel, stride=stride, padding=pad, dilation=dilation,
                                    groups=groups, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.conv3 = ConvModule(hidden, conv_out, 1, norm_cfg=norm_cfg, act_cfg=None)
        elif shortcut != 'identity' or stride != 1:
            raise ValueError('a bypassed ResBlock (hidden 0) needs an identity shortcut and stride 1')
        if shortcut == 'identity' and stride != 1 and not pool_identity:
            raise ValueError(f'an identity shortcut of a stride-{stride} block needs pool_identity (or a '
                             "'conv' shortcut)")
        self.downsample = ConvModule(in_channels, conv_out, 1, stride=stride, norm_cfg=norm_cfg,
                                     act_cfg=None) if shortcut == 'conv' else None
        # parameter-free, so the state dict keeps its names
        self.pool = nn.AvgPool2d(2, 2, ceil_mode=True) if pool_identity else None
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            identity = self.downsample(x)
        else:
            identity = x if self.pool is None else self.pool(x)
        identity = match_width(identity, self.out_channels)
        if self.conv1 is None:
            return identity
        y = self.conv2(self.conv1(x))
        if self.conv3 is not None:
            y = self.conv3(y)
        return self.act(match_width(y, self.out_channels) + identity)

    def extra_repr(self) -> str:
        conv = f' (conv path {self.conv_out})' if self.conv_out != self.out_channels else ''
        pool = ', pooled identity' if self.pool is not None else ''
        return (f'{self.token or self.block_type}: {self.in_channels}->{self.hidden}->{self.out_channels}{conv}, '
                f'groups={self.groups}, stride={self.stride}, dilation={self.dilation}{pool}')


def build_block(block: Block, info: LayerInfo, spec: ArchSpec, norm_cfg: Optional[dict] = None,
                act_cfg: Optional[dict] = None) -> nn.Module:
    """Build the module of one block of a resolved layer (see :meth:`ArchSpec.layers`).

    ``act_cfg`` (default: the spec's activation) is used unless the layer's stage sets its own
    activation (mbv3 specs), which always wins.
    """
    if block.is_skip:
        return Skip()
    hidden = info.hidden(block, spec.block_type)
    stage_act = spec.stages[info.stage].act
    if stage_act is not None:
        act_cfg = act_cfg_for(stage_act)
    elif act_cfg is None:
        act_cfg = act_cfg_for(spec.act)
    if block.kind == 'separable':
        return DepthwiseSeparable(info.in_channels, info.out_channels, block.kernel, stride=info.stride,
                                  dilation=info.dilation, norm_cfg=norm_cfg, act_cfg=act_cfg, token=block.token,
                                  bypass=block.bypass, conv_out=info.conv_out(block))
    if block.kind == 'mbconv':
        expand = block.hidden is not None or block.expansion != 1
        se_channels = spec.se_channels(info, block)
        se_kwargs = dict(se_act_cfg=act_cfg_for(spec.se['act']), se_gate=spec.se['gate']) if se_channels else {}
        return MBConv(info.in_channels, info.out_channels, block.kernel, stride=info.stride,
                      dilation=info.dilation, hidden=hidden, expand=expand, shortcut=info.has_shortcut(),
                      norm_cfg=norm_cfg, act_cfg=act_cfg, token=block.token, se_channels=se_channels,
                      bypass=block.bypass, conv_out=info.conv_out(block),
                      depthwise=info.depthwise(block, spec.block_type), **se_kwargs)
    shortcut = 'identity' if info.has_shortcut() else 'conv'
    return ResBlock(spec.block_type, info.in_channels, info.out_channels, kernel=block.kernel,
                    groups=block.groups, hidden=hidden, stride=info.stride, dilation=info.dilation,
                    shortcut=shortcut, norm_cfg=norm_cfg, act_cfg=act_cfg, token=block.token,
                    conv_out=info.conv_out(block), pool_identity=shortcut == 'identity' and info.stride != 1)


class SearchLayer(nn.Module):
    """A searchable layer of a super-net: one module per candidate block.

    ``forward(x)`` runs the active candidate (single path); ``forward(x, weights)`` returns the
    weighted sum of all candidates (Eq. 7 of FNA++ with ``weights = softmax(alpha)``).
    """

    def __init__(self, candidates: Sequence[nn.Module], tokens: Sequence[str]):
        super().__init__()
        self.candidates = nn.ModuleList(candidates)
        self.tokens: List[str] = list(tokens)
        self.active = 0

    def forward(self, x: torch.Tensor, weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        if weights is None:
            return self.candidates[self.active](x)
        out = None
        for w, op in zip(weights, self.candidates):
            y = w * op(x)
            out = y if out is None else out + y
        return out

    def extra_repr(self) -> str:
        return f"candidates={'|'.join(self.tokens)}, active={self.tokens[self.active]}"
