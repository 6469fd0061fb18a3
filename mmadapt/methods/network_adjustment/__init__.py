"""Network Adjustment (Chen et al., CVPR 2020): per-layer channel counts at fixed FLOPs, guided by the
FLOPs utilisation ratio measured with channel dropout.

- :mod:`.settings`: the ``network_adjustment`` config dict;
- :mod:`.adjust`: drop rates, the k schedule, adjusting and rescaling widths (pure functions);
- :mod:`.fur`: the FLOPs utilisation ratio of every width of a trained model;
- :mod:`.hooks`: train-time channel dropout (``mmadapt.ChannelDropoutHook``);
- :mod:`.pipeline`: the rounds of Algorithm 1 behind ``tools/train.py``.
"""
from .adjust import BudgetError, adjust_widths, drop_rates, k_schedule, rescale_widths
from .fur import compute_fur
from .hooks import ChannelDropoutHook
from .settings import NAConfigError, na_settings

__all__ = ['BudgetError', 'adjust_widths', 'drop_rates', 'k_schedule', 'rescale_widths', 'compute_fur',
           'ChannelDropoutHook', 'NAConfigError', 'na_settings', 'run_pipeline']


def run_pipeline(*args, **kwargs):
    """Run Network Adjustment (see :func:`mmadapt.methods.network_adjustment.pipeline.run_pipeline`)."""
    from .pipeline import run_pipeline as _run
    return _run(*args, **kwargs)
