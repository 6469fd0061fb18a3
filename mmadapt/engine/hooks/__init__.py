from .bn_recalibration import BNRecalibrationHook
from .results_hook import ResultsHook

__all__ = ['BNRecalibrationHook', 'ResultsHook']
