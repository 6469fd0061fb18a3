from .arch_adapt import ArchAdaptLoop, ArchAdaptStateHook, SplitDataset, split_indices

__all__ = ['ArchAdaptLoop', 'ArchAdaptStateHook', 'SplitDataset', 'split_indices']
