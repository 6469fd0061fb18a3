"""A seed backbone of one's own, plugged into mmadapt: ToyNet (see ../README.md)."""
from .toynet import TOYNET_SPEC, ToyNet, toynet_key

__all__ = ['TOYNET_SPEC', 'ToyNet', 'toynet_key']
