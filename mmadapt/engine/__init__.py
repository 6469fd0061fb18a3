"""Loops, hooks and Runner set-up that drive adaptation inside mmengine's Runner, and the plumbing of
the methods' staged pipelines (:mod:`mmadapt.engine.pipeline`)."""
from .hooks import BNRecalibrationHook, CheckpointHook, ResultsHook
from .launch import DeviceAwareDDP, build_runner, prepare_config, run_tool, shutdown_distributed
from .loops import ArchAdaptLoop, ArchAdaptStateHook
from .pipeline import (DONE, PipelineConfigError, PipelineFileError, clear_done, count_network, done_path,
                       load_summary_file, mark_done, read_done, read_results, read_run_metrics, replace_key, resolve_stored_path,
                       run_stage, stage_dir, stored_path, timestamp)

__all__ = ['ArchAdaptLoop', 'ArchAdaptStateHook', 'BNRecalibrationHook', 'CheckpointHook', 'ResultsHook', 'DeviceAwareDDP',
           'prepare_config', 'build_runner', 'run_tool', 'shutdown_distributed',
           'DONE', 'PipelineConfigError', 'PipelineFileError', 'timestamp', 'stage_dir', 'done_path', 'read_done',
           'mark_done', 'clear_done', 'stored_path', 'resolve_stored_path', 'run_stage', 'read_results', 'read_run_metrics',
           'count_network', 'replace_key', 'load_summary_file']
