"""Backbones, heads and searchable modules registered in ``mmadapt.registry.MODELS``."""
from .backbones import (DerivedMobileNetV1, DerivedMobileNetV2, DerivedMobileNetV3, DerivedResNet, SuperMobileNetV2,
                        SuperResNet)
from .heads import SeparableASPPHead, SSDHead

__all__ = [
    'DerivedMobileNetV2', 'DerivedResNet', 'SuperMobileNetV2', 'SuperResNet', 'SeparableASPPHead', 'SSDHead',
    'DerivedMobileNetV1', 'DerivedMobileNetV3'
]
