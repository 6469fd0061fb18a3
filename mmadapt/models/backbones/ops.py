"""Blocks that specs are built from: MBConv, ResNet basic / bottleneck blocks, skip, search layers.

Every block is a plain module of static convolutions. The search machinery (several candidates and
their mixture) lives only in :class:`SearchLayer`, so a derived network holds none of it.
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule

from mmadapt.arch import ArchSpec, Block, LayerInfo


def match_width(x: torch.Tensor, channels: int) -> torch.Tensor:
    """Zero-pad (or keep the leading) channels of ``x`` (N, C, H, W) so that it has ``channels``."""
    c = x.shape[1]
    if c == channels:
        return x
    if c > channels:
        return x[:, :channels]
    return F.pad(x, (0, 0, 0, 0, 0, channels - c))


class Skip(nn.Module):
    """The ``skip`` op of depth search: returns its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def extra_repr(self) -> str:
        return 'skip'


class MBConv(nn.Module):
    """MobileNetV2 inverted residual: [1x1 expand] -> k x k depthwise -> 1x1 linear projection.

    Args:
        in_channels / out_channels: widths of input and output.
        kernel: kernel of the depthwise conv. stride / dilation: of the depthwise conv.
        hidden: width of the depthwise conv; 0 bypasses the body (the output is the shortcut).
        expand: whether there is a 1x1 expansion conv (without it, ``hidden == in_channels``).
        shortcut: add the input, zero-padded / cut to ``out_channels`` if widths differ.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 dilation: int = 1, hidden: Optional[int] = None, expand: bool = True,
                 shortcut: bool = False, norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None,
                 token: str = ''):
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')
        act_cfg = act_cfg or dict(type='ReLU6')
        hidden = in_channels if hidden is None else hidden
        if not expand and hidden != in_channels:
            raise ValueError(f'MBConv without expansion needs hidden == in_channels ({in_channels}), '
                             f'got {hidden}')
        self.in_channels, self.out_channels, self.hidden = in_channels, out_channels, hidden
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.shortcut = shortcut
        self.token = token
        if hidden == 0:
            if not shortcut:
                raise ValueError('a bypassed MBConv (hidden 0) needs a shortcut')
            self.expand_conv = self.depthwise_conv = self.linear_conv = None
            return
        self.expand_conv = ConvModule(in_channels, hidden, 1, norm_cfg=norm_cfg,
                                      act_cfg=act_cfg) if expand else None
        self.depthwise_conv = ConvModule(hidden, hidden, kernel, stride=stride,
                                         padding=dilation * (kernel - 1) // 2, dilation=dilation,
                                         groups=hidden, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.linear_conv = ConvModule(hidden, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.linear_conv is None:
            return match_width(x, self.out_channels)
        y = x if self.expand_conv is None else self.expand_conv(x)
        y = self.linear_conv(self.depthwise_conv(y))
        if self.shortcut:
            y = y + match_width(x, self.out_channels)
        return y

    def extra_repr(self) -> str:
        return (f'{self.token or "mbconv"}: {self.in_channels}->{self.hidden}->{self.out_channels}, '
                f'stride={self.stride}, dilation={self.dilation}, shortcut={self.shortcut}')


class ResBlock(nn.Module):
    """ResNet basic or bottleneck block whose searchable conv has ``kernel`` and ``groups``.

    Basic: k x k (groups, stride) -> 3 x 3. Bottleneck: 1x1 -> k x k (groups, stride, dilation) -> 1x1.
    The shortcut is a 1x1 conv + BN where ``shortcut == 'conv'``, the (zero-padded) identity where
    ``'identity'``; the sum goes through ReLU.
    """

    def __init__(self, block_type: str, in_channels: int, out_channels: int, kernel: int = 3,
                 groups: int = 1, hidden: Optional[int] = None, stride: int = 1, dilation: int = 1,
                 shortcut: str = 'identity', norm_cfg: Optional[dict] = None,
                 act_cfg: Optional[dict] = None, token: str = ''):
        super().__init__()
        if block_type not in ('basic', 'bottleneck'):
            raise ValueError(f"block_type must be 'basic' or 'bottleneck', got {block_type!r}")
        if shortcut not in ('conv', 'identity'):
            raise ValueError(f"shortcut must be 'conv' or 'identity', got {shortcut!r}")
        norm_cfg = norm_cfg or dict(type='BN')
        act_cfg = act_cfg or dict(type='ReLU')
        if hidden is None:
            hidden = out_channels // 4 if block_type == 'bottleneck' else out_channels
        self.block_type, self.in_channels, self.out_channels = block_type, in_channels, out_channels
        self.hidden, self.kernel, self.groups = hidden, kernel, groups
        self.stride, self.dilation, self.token = stride, dilation, token
        pad = dilation * (kernel - 1) // 2
        self.conv1 = self.conv2 = self.conv3 = None
        if hidden > 0 and block_type == 'basic':
            self.conv1 = ConvModule(in_channels, hidden, kernel, stride=stride, padding=pad, dilation=dilation,
                                    groups=groups, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.conv2 = ConvModule(hidden, out_channels, 3, padding=1, norm_cfg=norm_cfg, act_cfg=None)
        elif hidden > 0:
            self.conv1 = ConvModule(in_channels, hidden, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.conv2 = ConvModule(hidden, hidden, kernel, stride=stride, padding=pad, dilation=dilation,
                                    groups=groups, norm_cfg=norm_cfg, act_cfg=act_cfg)
            self.conv3 = ConvModule(hidden, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        elif shortcut != 'identity' or stride != 1:
            raise ValueError('a bypassed ResBlock (hidden 0) needs an identity shortcut and stride 1')
        self.downsample = ConvModule(in_channels, out_channels, 1, stride=stride, norm_cfg=norm_cfg,
                                     act_cfg=None) if shortcut == 'conv' else None
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.downsample(x) if self.downsample is not None else match_width(x, self.out_channels)
        if self.conv1 is None:
            return identity
        y = self.conv2(self.conv1(x))
        if self.conv3 is not None:
            y = self.conv3(y)
        return self.act(y + identity)

    def extra_repr(self) -> str:
        return (f'{self.token or self.block_type}: {self.in_channels}->{self.hidden}->{self.out_channels}, '
                f'groups={self.groups}, stride={self.stride}, dilation={self.dilation}')


def build_block(block: Block, info: LayerInfo, spec: ArchSpec, norm_cfg: Optional[dict] = None,
                act_cfg: Optional[dict] = None) -> nn.Module:
    """Build the module of one block of a resolved layer (see :meth:`ArchSpec.layers`)."""
    if block.is_skip:
        return Skip()
    hidden = info.hidden(block, spec.block_type)
    if act_cfg is None:
        act_cfg = dict(type='ReLU6' if spec.act == 'relu6' else 'ReLU')
    if block.kind == 'mbconv':
        expand = block.hidden is not None or block.expansion != 1
        return MBConv(info.in_channels, info.out_channels, block.kernel, stride=info.stride,
                      dilation=info.dilation, hidden=hidden, expand=expand, shortcut=info.has_shortcut(),
                      norm_cfg=norm_cfg, act_cfg=act_cfg, token=block.token)
    shortcut = 'identity' if info.has_shortcut() else 'conv'
    return ResBlock(spec.block_type, info.in_channels, info.out_channels, kernel=block.kernel,
                    groups=block.groups, hidden=hidden, stride=info.stride, dilation=info.dilation,
                    shortcut=shortcut, norm_cfg=norm_cfg, act_cfg=act_cfg, token=block.token)


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
