"""Backbones, heads and searchable modules registered in ``mmadapt.registry.MODELS``."""
from .backbones import (DerivedMobileNetV2, DerivedResNet, SuperMobileNetV2, SuperResNet)
from .heads import SeparableASPPHead, SSDHead

__all__ = ['DerivedMobileNetV2', 'DerivedResNet', 'SuperMobileNetV2', 'SuperResNet', 'SeparableASPPHead', 'SSDHead']
