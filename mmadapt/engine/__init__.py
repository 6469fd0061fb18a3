"""Loops, hooks and Runner set-up that drive adaptation inside mmengine's Runner."""
from .hooks import BNRecalibrationHook, CheckpointHook, ResultsHook
from .launch import DeviceAwareDDP, build_runner, prepare_config, run_tool, shutdown_distributed
from .loops import ArchAdaptLoop, ArchAdaptStateHook

__all__ = ['ArchAdaptLoop', 'ArchAdaptStateHook', 'BNRecalibrationHook', 'CheckpointHook', 'ResultsHook', 'DeviceAwareDDP',
           'prepare_config', 'build_runner', 'run_tool', 'shutdown_distributed']
