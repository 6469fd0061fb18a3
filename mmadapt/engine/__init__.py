"""Loops, hooks and Runner set-up that drive adaptation inside mmengine's Runner."""
from .hooks import ResultsHook
from .launch import DeviceAwareDDP, build_runner, prepare_config

__all__ = ['ResultsHook', 'DeviceAwareDDP', 'prepare_config', 'build_runner']
