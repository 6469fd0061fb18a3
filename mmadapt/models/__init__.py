"""Backbones, heads and searchable modules registered in ``mmadapt.registry.MODELS``."""
from .backbones import (DerivedMobileNetV2, DerivedResNet, SuperMobileNetV2, SuperResNet)
from .heads import SSDHead

__all__ = ['DerivedMobileNetV2', 'DerivedResNet', 'SuperMobileNetV2', 'SuperResNet', 'SSDHead']
