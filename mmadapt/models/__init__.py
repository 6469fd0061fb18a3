"""Backbones, heads and searchable modules registered in ``mmadapt.registry.MODELS``; checkpoint remapping
into built backbones (:mod:`mmadapt.models.checkpoint`)."""
from .backbones import (DerivedMobileNetV1, DerivedMobileNetV2, DerivedMobileNetV3, DerivedResNet, ElasticMobileNetV1,
                        ElasticMobileNetV2, ElasticMobileNetV3, ElasticResNet, SuperMobileNetV2, SuperResNet,
                        derived_backbone_class, grow_elastic)
from .checkpoint import SUPER_BACKBONES, RemappedCheckpoint, build_spec_backbone, remap_checkpoint
from .heads import DepthL1Loss, NNConv5Head, SeparableASPPHead, SSDHead

__all__ = [
    'DerivedMobileNetV2', 'DerivedResNet', 'SuperMobileNetV2', 'SuperResNet', 'SeparableASPPHead', 'SSDHead',
    'DerivedMobileNetV1', 'DerivedMobileNetV3', 'derived_backbone_class', 'SUPER_BACKBONES', 'RemappedCheckpoint',
    'build_spec_backbone', 'remap_checkpoint', 'ElasticMobileNetV1', 'ElasticMobileNetV2', 'ElasticMobileNetV3',
    'ElasticResNet', 'grow_elastic', 'NNConv5Head', 'DepthL1Loss'
]
