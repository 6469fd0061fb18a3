"""FastDepth's NNConv5 decoder as an mmseg depth head, and the masked L1 loss FastDepth trains with.

FastDepth (Wofk et al., ICRA 2019; NetAdaptV2's depth seed, Sec. 4.2) is a MobileNetV1 encoder and
this decoder: five stages, each a 5x5 depthwise conv + BN + ReLU, a 1x1 pointwise conv + BN + ReLU
and a nearest-neighbour x2 upsampling, with additive skip connections from the encoder, and a final
1x1 conv to one channel. It runs in mmseg's ``DepthEstimator``:

.. code-block:: python

    model = dict(
        type='DepthEstimator',
        backbone=dict(type='mmadapt.DerivedMobileNetV1', out_indices=(0, 1, 2, 4)),
        decode_head=dict(type='mmadapt.NNConv5Head', in_channels=(64, 128, 256, 1024),
                         in_index=(0, 1, 2, 3)))

mmseg 1.2.2 has no L1 depth loss (its only depth loss is ``SiLogLoss``), so :class:`DepthL1Loss` is
added here.
"""
from collections import OrderedDict
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmadapt.models.backbones.ops import match_width
from mmadapt.registry import MODELS


@MODELS.register_module()
class DepthL1Loss(nn.Module):
    """Mean absolute depth error over the valid pixels of a batch (FastDepth's ``MaskedL1Loss``).

    A pixel is valid where the target depth is above ``min_depth`` (0 marks a missing depth in NYU
    Depth V2) and, if given, below ``max_depth``; the mean is over all valid pixels of the batch.

    Args:
        min_depth: targets at or below this are ignored (m).
        max_depth: targets at or above this are ignored (m); None: no upper limit.
        loss_weight: factor on the loss.
        loss_name: key of the loss in the loss dict (mmseg sums every key starting with ``loss``).
    """

    def __init__(self, min_depth: float = 0.0, max_depth: Optional[float] = None, loss_weight: float = 1.0,
                 loss_name: str = 'loss_l1'):
        super().__init__()
        self.min_depth = float(min_depth)
        self.max_depth = None if max_depth is None else float(max_depth)
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred: torch.Tensor, target: torch.Tensor, **kwargs) -> torch.Tensor:
        if pred.shape != target.shape:
            raise ValueError(f'DepthL1Loss: prediction {tuple(pred.shape)} and target {tuple(target.shape)} '
                             'differ in shape')
        valid = target > self.min_depth
        if self.max_depth is not None:
            valid &= target < self.max_depth
        if not bool(valid.any()):
            return pred.sum() * 0.0  # keeps the graph: no valid pixel gives a zero loss, not NaN
        return self.loss_weight * (pred - target.to(pred.dtype)).abs()[valid].mean()


@MODELS.register_module()
class NNConv5Head(BaseDecodeHead):
    """FastDepth's NNConv5 decoder predicting a one-channel depth map (metres).

    The inputs are the backbone outputs selected by ``in_index``: the last one (the deepest) feeds
    the decoder, the others are skip connections. Decoder stage ``i`` is a ``kernel_size`` depthwise
    conv + norm + act on its input width, a 1x1 pointwise conv + norm + act to
    ``decoder_channels[i]`` and a nearest x2 upsampling; where a skip joins, the stage's output is
    upsampled (nearest) to the skip's size instead (the same as x2 when the sizes halve exactly)
    and the skip is added. A final 1x1 conv with bias (``conv_seg``) gives the depth.

    Skips join, deepest first, at ``skip_stages`` (decoder stage indices, increasing); by default
    each joins the first later stage whose width equals its own: FastDepth's MobileNetV1 features of
    256, 128 and 64 channels (strides 8, 4, 2) join after stages 1, 2 and 3 of 512, 256, 128, 64, 32.

    Loss and prediction (the interface of mmseg's ``DepthEstimator``, as its ``VPDDepthHead``): the
    prediction is resized bilinearly to the ground truth and each ``loss_decode`` gets
    ``(pred, gt_depth_map)``; by default :class:`DepthL1Loss`, FastDepth's masked L1 loss (pixels
    without depth ignored). Training uses the raw output (no activation, so no gradient is cut
    off); predictions are clamped to ``[min_depth, max_depth]``, which keeps mmseg's ``DepthMetric``
    (it takes logarithms) finite. (FastDepth's code ends with conv + BN + ReLU; the final layer here
    is the plain 1x1 conv of the paper's description.)

    Args:
        in_channels: widths of the selected inputs (for an elastic backbone with padded outputs:
            the max widths).
        in_index: backbone outputs to use, the deepest last.
        decoder_channels: output width of each decoder stage (FastDepth: 512, 256, 128, 64, 32; five
            stages upsample a stride-32 feature to the input size).
        kernel_size: depthwise kernel size (FastDepth: 5).
        skip_stages: decoder stage after which each skip (deepest first) is added; None: by width.
        min_depth, max_depth: range of the predicted depth (m) at inference.
        norm_cfg, act_cfg: of the decoder convs (FastDepth: BN, ReLU).
        loss_decode: loss config(s); default ``mmadapt.DepthL1Loss``.
        align_corners: of the bilinear resizing of the prediction.
        init_cfg: default: normal init (std 0.01) of the final conv; the decoder's ConvModules use
            their own Kaiming init.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 128, 256, 1024),
                 in_index: Sequence[int] = (0, 1, 2, 3),
                 decoder_channels: Sequence[int] = (512, 256, 128, 64, 32),
                 kernel_size: int = 5,
                 skip_stages: Optional[Sequence[int]] = None,
                 min_depth: float = 1e-3,
                 max_depth: float = 10.0,
                 norm_cfg: Optional[dict] = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 loss_decode=dict(type='mmadapt.DepthL1Loss'),
                 align_corners: bool = False,
                 init_cfg=dict(type='Normal', std=0.01, override=dict(name='conv_seg')),
                 **kwargs):
        in_channels, in_index = list(in_channels), list(in_index)
        decoder_channels = [int(c) for c in decoder_channels]
        if not decoder_channels or min(decoder_channels) < 1:
            raise ValueError(f'NNConv5Head: decoder_channels must be positive widths, got {decoder_channels}')
        if len(in_channels) != len(in_index) or not in_index:
            raise ValueError(f'NNConv5Head: in_channels {in_channels} and in_index {in_index} must be non-empty '
                             'and of the same length')
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'NNConv5Head: kernel_size must be odd, got {kernel_size}')
        if not 0 < min_depth < max_depth:
            raise ValueError(f'NNConv5Head: need 0 < min_depth < max_depth, got {min_depth}, {max_depth}')
        # threshold is mmseg's for one-channel segmentation; set so that it does not warn
        super().__init__(in_channels=in_channels, channels=decoder_channels[-1], num_classes=1, out_channels=1,
                         threshold=0.5, dropout_ratio=0.0, norm_cfg=norm_cfg, act_cfg=act_cfg, in_index=in_index,
                         input_transform='multiple_select', loss_decode=loss_decode, align_corners=align_corners,
                         init_cfg=init_cfg, **kwargs)
        self.decoder_channels = tuple(decoder_channels)
        self.kernel_size = kernel_size
        self.min_depth, self.max_depth = float(min_depth), float(max_depth)
        skip_channels = in_channels[:-1][::-1]  # deepest first
        self.skip_stages = self._skip_stages(skip_channels, decoder_channels, skip_stages)
        self.stages = nn.ModuleList()
        width = in_channels[-1]
        for c in decoder_channels:
            self.stages.append(nn.Sequential(OrderedDict(
                depthwise=ConvModule(width, width, kernel_size, padding=kernel_size // 2, groups=width,
                                     conv_cfg=self.conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg),
                pointwise=ConvModule(width, c, 1, conv_cfg=self.conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg))))
            width = c

    @staticmethod
    def _skip_stages(skip_channels: List[int], decoder_channels: List[int],
                     given: Optional[Sequence[int]]) -> tuple:
        if given is not None:
            stages = [int(s) for s in given]
            if len(stages) != len(skip_channels):
                raise ValueError(f'NNConv5Head: skip_stages {stages} must name one decoder stage for each of the '
                                 f'{len(skip_channels)} skips (inputs but the last, deepest first: widths '
                                 f'{skip_channels})')
            if any(b <= a for a, b in zip(stages, stages[1:])) or (stages and not 0 <= stages[0]) or (
                    stages and stages[-1] >= len(decoder_channels)):
                raise ValueError(f'NNConv5Head: skip_stages {stages} must increase within 0..'
                                 f'{len(decoder_channels) - 1}')
            for s, c in zip(stages, skip_channels):
                if decoder_channels[s] != c:
                    raise ValueError(f'NNConv5Head: a skip of {c} channels cannot be added after decoder stage {s} '
                                     f'of {decoder_channels[s]} channels (decoder_channels {decoder_channels})')
            return tuple(stages)
        stages, start = [], 0
        for c in skip_channels:
            found = next((i for i in range(start, len(decoder_channels)) if decoder_channels[i] == c), None)
            if found is None:
                raise ValueError(f'NNConv5Head: no decoder stage after stage {start - 1} has the skip width {c} '
                                 f'(skips, deepest first: {skip_channels}; decoder_channels {decoder_channels}); '
                                 'additive skips need equal widths: change decoder_channels or in_index, or give '
                                 'skip_stages')
            stages.append(found)
            start = found + 1
        return tuple(stages)

    def forward(self, inputs) -> torch.Tensor:
        """Depth (N, 1, H', W') from the backbone outputs (raw, not clamped)."""
        # a narrower input (the encoder of an adapted network: a NetAdaptV2 / DNA found network whose
        # skip widths shrank) is zero-padded to the width the head was built for, as an elastic
        # backbone's padded outputs are; the additive skips stay additions of equal widths
        feats = [match_width(f, c) for f, c in zip(self._transform_inputs(inputs), self.in_channels)]
        x = feats[-1]
        skips = dict(zip(self.skip_stages, feats[:-1][::-1]))
        for i, stage in enumerate(self.stages):
            x = stage(x)
            skip = skips.get(i)
            if skip is None:
                x = F.interpolate(x, scale_factor=2, mode='nearest')
            else:
                x = F.interpolate(x, size=skip.shape[2:], mode='nearest') + skip
        return self.cls_seg(x)

    def loss_by_feat(self, seg_logits: torch.Tensor, batch_data_samples) -> dict:
        """Losses of the predicted depth against each sample's ``gt_depth_map`` (N, 1, H, W)."""
        gt = torch.stack([sample.gt_depth_map.data for sample in batch_data_samples], dim=0)
        pred = resize(seg_logits, size=gt.shape[2:], mode='bilinear', align_corners=self.align_corners)
        losses = dict()
        decode = self.loss_decode if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]
        for loss in decode:
            value = loss(pred, gt)
            losses[loss.loss_name] = losses[loss.loss_name] + value if loss.loss_name in losses else value
        return losses

    def predict_by_feat(self, seg_logits: torch.Tensor, batch_img_metas: List[dict]) -> torch.Tensor:
        """The depth resized to the (padded) input, clamped to ``[min_depth, max_depth]``."""
        depth = super().predict_by_feat(seg_logits, batch_img_metas)
        return depth.clamp(self.min_depth, self.max_depth)
