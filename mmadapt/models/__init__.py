"""Backbones, heads and searchable modules registered in ``mmadapt.registry.MODELS``."""
from .heads import SSDHead

__all__ = ['SSDHead']
