"""Backbones built from architecture specs: the derived (static) ones and the shared base.

Output indices follow mmdet's and mmpretrain's conventions: for MobileNetV2-like specs 0-6 are the
seven stages and 7 the final 1x1 conv (the spec's ``head``); for ResNets 0..S-1 the S stages (four
for ImageNet ResNets, three for CIFAR ones); for MobileNetV1 0-4 the five stages; for MobileNetV3 / EfficientNet specs 0..S-1 the S stages and S
the head conv. Stages after the last requested output are not built, so no parameter goes unused.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch.nn.modules.batchnorm import _BatchNorm

from mmadapt.arch import ArchSpec, load_spec
from mmadapt.registry import MODELS
from mmadapt.remap import RemapInit
from mmadapt.utils.config_values import config_bool
from .ops import act_cfg_for, build_block

DEFAULT_INIT = [
    dict(type='Kaiming', layer='Conv2d'),
    dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])
]
DEFAULT_SPECS = {'mbv2': 'mobilenet_v2', 'resnet': 'resnet50', 'mbv1': 'mobilenet_v1', 'mbv3': 'mobilenet_v3_large'}


class SpecBackbone(BaseModule):
    """Stem, stages and optional head conv of a spec; subclasses decide how a layer is built.

    Args:
        spec: a built-in spec name, a spec file, a dict or an :class:`~mmadapt.arch.ArchSpec`.
        out_indices: which outputs to return (see the module docstring).
        frozen_stages: stages to freeze (-1: none; 0: the stem; k: the stem and stages 0..k-1).
        norm_cfg: norm layer config. norm_eval: keep norm layers in eval mode while training.
        act_cfg: activation config of the stem, the head and every stage without an activation of
            its own; default from the spec (``ReLU6``, ``ReLU``, ``HSwish``, ``SiLU``). A stage's own
            activation (mbv3 specs) is always honoured.
    """
    family = 'mbv2'
    searchable = False  # whether layers may hold several candidates
    super_type = 'mmadapt.SuperMobileNetV2'
    padded_shortcuts = True  # whether it builds specs with a zero-padding shortcut rule (resnet, mbv3)

    def __init__(self, spec: Union[str, Dict, ArchSpec, None] = None,
                 out_indices: Sequence[int] = None, frozen_stages: int = -1,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None,
                 norm_eval: bool = False, init_cfg=None):
        super().__init__(init_cfg=DEFAULT_INIT if init_cfg is None else init_cfg)
        self.spec = load_spec(DEFAULT_SPECS[self.family] if spec is None else spec)
        if self.spec.family != self.family:
            raise ValueError(f'{type(self).__name__} builds {self.family} specs; spec {self.spec.name!r} '
                             f'is a {self.spec.family} spec')
        if self.spec.shortcut != 'conv' and not self.padded_shortcuts:
            raise ValueError(f"{type(self).__name__} builds resnet specs with shortcut 'conv' only; spec "
                             f'{self.spec.name!r} has shortcut {self.spec.shortcut!r} (zero-padded, '
                             'parameter-free shortcuts): build it with mmadapt.DerivedResNet')
        if not self.searchable and not self.spec.is_derived:
            build = (f'build it with {self.super_type}, or derive' if self.super_type else
                     f'no super-backbone builds {self.family} specs yet; derive')
            raise ValueError(f'spec {self.spec.name!r} has searchable layers; {build} a spec first '
                             '(mmadapt.arch.derive_spec)')
        num_stages = len(self.spec.stages)
        max_index = num_stages if self.spec.head is not None else num_stages - 1
        if out_indices is None:
            out_indices = (max_index, )
        out_indices = tuple(out_indices)
        if not out_indices or any(not isinstance(i, int) or not 0 <= i <= max_index for i in out_indices):
            raise ValueError(f'out_indices {out_indices} not allowed for spec {self.spec.name!r}; allowed: '
                             f'integers 0..{max_index}' + (f' ({max_index} is the head conv)'
                                                           if max_index == num_stages else ''))
        if not -1 <= frozen_stages <= num_stages:
            raise ValueError(f'frozen_stages must be in -1..{num_stages}, got {frozen_stages}')
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)
        self.act_cfg = act_cfg or act_cfg_for(self.spec.act)
        self.norm_eval = config_bool(norm_eval, f'{type(self).__name__} norm_eval')
        last = max(out_indices)

        stem = self.spec.stem
        k = stem['kernel']
        self.stem = ConvModule(self.spec.in_channels, stem['out_channels'], k, stride=stem['stride'],
                               padding=k // 2, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.stem_pool = nn.MaxPool2d(3, 2, 1) if stem.get('pool') else None
        infos = self.spec.layers()
        self.layer_infos = [info for info in infos if info.stage <= last]
        self.stages = nn.ModuleList()
        for s in range(min(last + 1, num_stages)):
            self.stages.append(self._build_stage([i for i in self.layer_infos if i.stage == s]))
        stage_out = self.spec.stage_out_channels()
        self.head = None
        if last == num_stages:
            self.head = ConvModule(stage_out[-1], self.spec.head['out_channels'], 1, norm_cfg=self.norm_cfg,
                                   act_cfg=self.act_cfg)
        channels = stage_out + ([self.spec.head['out_channels']] if self.spec.head else [])
        strides = self.spec.stage_strides()
        strides = strides + [strides[-1]]
        self.out_channels: Tuple[int, ...] = tuple(channels[i] for i in out_indices)
        self.out_strides: Tuple[int, ...] = tuple(strides[i] for i in out_indices)
        self._freeze_stages()

    # -- initialisation ---------------------------------------------------------------------------
    def init_weights(self) -> None:
        """Run ``init_cfg``, applying ``mmadapt.Remap`` entries last (after the modules' own init).

        mmengine applies only ``Pretrained`` after the children's ``init_weights``; a remapping
        applied earlier would be overwritten by the convs' own initialisation.
        """
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else ([self.init_cfg] if self.init_cfg else [])
        remaps = [c for c in cfgs if isinstance(c, dict) and c.get('type') in ('mmadapt.Remap', 'Remap')]
        if not remaps or self._is_init:
            super().init_weights()
            return
        self.init_cfg = [c for c in cfgs if c not in remaps]
        try:
            super().init_weights()
        finally:
            self.init_cfg = cfgs
        for cfg in remaps:
            kwargs = {k: v for k, v in cfg.items() if k != 'type'}
            RemapInit(**kwargs)(self)

    # -- building --------------------------------------------------------------------------------
    def _build_stage(self, infos) -> nn.Module:
        raise NotImplementedError

    def _build_block(self, block, info) -> nn.Module:
        return build_block(block, info, self.spec, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)

    @property
    def feature_info(self) -> List[Dict]:
        """One dict per output: ``index``, ``channels`` and ``stride`` (reduction of the input)."""
        return [dict(index=i, channels=c, stride=s)
                for i, c, s in zip(self.out_indices, self.out_channels, self.out_strides)]

    # -- forward ---------------------------------------------------------------------------------
    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        return x if self.stem_pool is None else self.stem_pool(x)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self._stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = self._run_stage(i, stage, x)
            if i in self.out_indices:
                outs.append(x)
        if self.head is not None:
            outs.append(self.head(x))
        return tuple(outs)

    def _run_stage(self, i: int, stage: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return stage(x)

    # -- training modes ------------------------------------------------------------------------
    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        frozen = [self.stem] + list(self.stages[:self.frozen_stages])
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self


@MODELS.register_module()
class DerivedMobileNetV2(SpecBackbone):
    """A MobileNetV2-like network built from a derived spec: plain static modules only.

    With no ``spec`` it is the standard MobileNetV2 1.0 (torchvision's ``mobilenet_v2`` without
    the classifier). FBNet-C and Proxyless (mobile) are the specs ``'fbnet_c'`` and
    ``'proxyless_mobile'``.

    Example:
        >>> backbone = DerivedMobileNetV2(out_indices=(2, 4, 6))
        >>> backbone.out_channels, backbone.out_strides
        ((32, 96, 320), (8, 16, 32))
    """
    family = 'mbv2'

    def _build_stage(self, infos) -> nn.Module:
        return nn.Sequential(*[self._build_block(info.candidates[0], info) for info in infos])


@MODELS.register_module()
class DerivedResNet(DerivedMobileNetV2):
    """A ResNet built from a derived spec (basic or bottleneck blocks with kernel / groups tokens).

    With no ``spec`` it is ResNet-50 (torchvision's ``resnet50`` without the classifier). It is the
    only backbone that builds specs with zero-padded, parameter-free shortcuts (``shortcut: pad`` /
    ``pad_proj``, Network Adjustment): the CIFAR ResNets ``'resnet20_cifar'`` .. ``'resnet110_cifar'``,
    ``'resnet18_padded'`` and ``'resnet18_x0.8_padded'``.
    """
    family = 'resnet'
    super_type = 'mmadapt.SuperResNet'


@MODELS.register_module()
class DerivedMobileNetV1(SpecBackbone):
    """MobileNetV1 built from a derived ``mbv1`` spec: a stem conv and five stages of depthwise-separable
    blocks (:class:`~mmadapt.models.backbones.ops.DepthwiseSeparable`).

    With no ``spec`` it is MobileNetV1 1.0 (timm's ``mobilenetv1_100`` without the classifier).

    Example:
        >>> backbone = DerivedMobileNetV1(out_indices=(1, 2, 3, 4))
        >>> backbone.out_channels, backbone.out_strides
        ((128, 256, 512, 1024), (4, 8, 16, 32))
    """
    family = 'mbv1'
    super_type = None

    def _build_stage(self, infos) -> nn.Module:
        return nn.Sequential(*[self._build_block(info.candidates[0], info) for info in infos])


@MODELS.register_module()
class DerivedMobileNetV3(SpecBackbone):
    """MobileNetV3 / EfficientNet built from a derived ``mbv3`` spec: MBConv blocks with optional
    squeeze-excitation and stage-specific activations, and the head conv.

    With no ``spec`` it is MobileNetV3-Large 1.0 (timm's ``mobilenetv3_large_100`` up to its 960-wide
    head conv, torchvision's ``mobilenet_v3_large().features``); ``'mobilenet_v3_small'`` and
    ``'efficientnet_b0'`` are the other seeds. torchvision's MobileNetV3 uses BN with ``eps=1e-3``:
    build with ``norm_cfg=dict(type='BN', eps=1e-3)`` to compute exactly its function. NetAdaptV2's
    discovered networks (``'netadaptv2_table8'``, ``'netadaptv2_table9'``) and search spaces use depthwise
    widths (``_d``) and zero-padded residuals (``shortcut: pad``).

    Example:
        >>> backbone = DerivedMobileNetV3(out_indices=(2, 4, 6))
        >>> backbone.out_channels, backbone.out_strides
        ((40, 112, 960), (8, 16, 32))
    """
    family = 'mbv3'
    super_type = None

    def _build_stage(self, infos) -> nn.Module:
        return nn.Sequential(*[self._build_block(info.candidates[0], info) for info in infos])


DERIVED_BACKBONES = {'mbv2': DerivedMobileNetV2, 'resnet': DerivedResNet, 'mbv1': DerivedMobileNetV1,
                     'mbv3': DerivedMobileNetV3}


def derived_backbone_class(family: str) -> type:
    """The derived-backbone class that builds ``family`` specs (``'mbv2'`` -> DerivedMobileNetV2, ...)."""
    if family not in DERIVED_BACKBONES:
        raise ValueError(f'no derived backbone for family {family!r}; allowed: {sorted(DERIVED_BACKBONES)}')
    return DERIVED_BACKBONES[family]
