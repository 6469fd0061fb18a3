from .bn_recalibration import BNRecalibrationHook
from .checkpoint_hook import AtomicLocalBackend, CheckpointHook
from .results_hook import ResultsHook

__all__ = ['AtomicLocalBackend', 'BNRecalibrationHook', 'CheckpointHook', 'ResultsHook']
