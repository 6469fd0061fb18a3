from .results_hook import ResultsHook

__all__ = ['ResultsHook']
