"""mmadapt: network adaptation (FNA++, DNA, Network Adjustment, DS-Net, NetAdaptV2) for OpenMMLab.

Importing the package makes mmengine checkpoints loadable under torch >= 2.6 without giving up
``weights_only=True`` (see :mod:`mmadapt.utils.checkpoint`) and registers mmadapt's modules under
the ``mmadapt`` scope (see :mod:`mmadapt.registry`).
"""
from .utils.checkpoint import register_safe_globals
from .version import __version__

register_safe_globals()

from . import engine, registry  # noqa: E402,F401  (registers hooks and loops)
from .methods import network_adjustment  # noqa: E402,F401  (registers its hook)

__all__ = ['__version__']
