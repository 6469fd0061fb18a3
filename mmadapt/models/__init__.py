"""Backbones and searchable modules registered in ``mmadapt.registry.MODELS``."""
