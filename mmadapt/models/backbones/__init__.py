"""Backbones built from architecture specs: derived (static) and super (searchable) ones."""
from .ops import MBConv, ResBlock, SearchLayer, Skip, build_block, match_width
from .spec_backbone import DerivedMobileNetV2, DerivedResNet, SpecBackbone
from .super_backbone import SuperBackboneMixin, SuperMobileNetV2, SuperResNet

__all__ = [
    'MBConv', 'ResBlock', 'SearchLayer', 'Skip', 'build_block', 'match_width', 'SpecBackbone',
    'DerivedMobileNetV2', 'DerivedResNet', 'SuperBackboneMixin', 'SuperMobileNetV2', 'SuperResNet'
]
