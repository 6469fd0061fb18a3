"""Deployment: ONNX export through mmdeploy checked against PyTorch, and latency in PyTorch and ONNX Runtime.

An optional extra (``make install-deploy``): importing this package does not import mmdeploy; the
functions that need it call :func:`require_mmdeploy`, which names what is missing.
"""
from .compat import DeployError, require_mmdeploy
from .export import compare_results, default_deploy_config, export_onnx, match_detections, read_report, task_of

__all__ = ['DeployError', 'require_mmdeploy', 'export_onnx', 'compare_results', 'default_deploy_config',
           'match_detections', 'read_report', 'task_of']
