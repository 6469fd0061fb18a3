"""Backbones built from architecture specs: derived (static) and super (searchable) ones."""
from .ops import (ACTIVATIONS, DepthwiseSeparable, MBConv, ResBlock, SearchLayer, Skip, SqueezeExcitation,
                  act_cfg_for, build_block, match_width)
from .spec_backbone import (DERIVED_BACKBONES, DerivedMobileNetV1, DerivedMobileNetV2, DerivedMobileNetV3,
                            DerivedResNet, SpecBackbone, derived_backbone_class)
from .elastic import (ChannelModulation, ChannelScale, ElasticBackbone, ElasticMobileNetV1, ElasticMobileNetV2,
                      ElasticMobileNetV3, ElasticResNet, SampleWidthMask, grow_elastic, register_elastic_block)
from .dynamic import DoubleHeadGate, DSBackbone, gumbel_onehot
from .super_backbone import SuperBackboneMixin, SuperMobileNetV2, SuperResNet

__all__ = [
    'DoubleHeadGate', 'DSBackbone', 'gumbel_onehot',
    'ChannelModulation', 'ChannelScale', 'ElasticBackbone', 'ElasticMobileNetV1', 'ElasticMobileNetV2',
    'ElasticMobileNetV3', 'ElasticResNet', 'SampleWidthMask', 'grow_elastic', 'register_elastic_block',
    'MBConv', 'ResBlock', 'SearchLayer', 'Skip', 'build_block', 'match_width', 'SpecBackbone',
    'DerivedMobileNetV2', 'DerivedResNet', 'SuperBackboneMixin', 'SuperMobileNetV2', 'SuperResNet',
    'ACTIVATIONS', 'DepthwiseSeparable', 'SqueezeExcitation', 'act_cfg_for', 'DERIVED_BACKBONES',
    'DerivedMobileNetV1', 'DerivedMobileNetV3', 'derived_backbone_class'
]
