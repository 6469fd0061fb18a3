"""mmadapt: network adaptation (FNA++, DNA, Network Adjustment, DS-Net, NetAdaptV2) for OpenMMLab.

Importing the package makes mmengine checkpoints loadable under torch >= 2.6 without giving up
``weights_only=True`` (see :mod:`mmadapt.utils.checkpoint`), formats each mmengine config text once
per process instead of on every dump (see :mod:`mmadapt.utils.config_text`), and registers mmadapt's
modules under the ``mmadapt`` scope (see :mod:`mmadapt.registry`).
"""
from .utils.checkpoint import register_safe_globals
from .utils.config_text import cache_pretty_text
from .version import __version__

register_safe_globals()
cache_pretty_text()  # mmengine formats a config's text with yapf on every dump: once is enough

from . import engine, registry  # noqa: E402,F401  (registers hooks and loops)
from .methods import dna, dsnet, netadaptv2, network_adjustment  # noqa: E402,F401  (registers their loop and hooks)

__all__ = ['__version__']
