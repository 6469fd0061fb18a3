"""mmdeploy 1.3.1 on the stack mmadapt pins (torch 2.13): what breaks and how mmadapt fixes it.

mmdeploy is an optional extra (``make install-deploy``; ``DEPLOY=1 tools/install.sh``). Measured with
torch 2.13.0, mmdeploy 1.3.1, onnx 1.23, onnxruntime 1.32, opset 11:

1. **``torch.onnx.export`` defaults to the dynamo exporter** (``dynamo=True`` since torch 2.9), which
   needs ``onnxscript`` and, above all, never runs mmdeploy's rewriters: they patch Python functions
   and register TorchScript symbolics, which only the TorchScript exporter reads. mmdeploy 1.3.1
   calls ``torch.onnx.export`` without the flag, so every export fails (``No module named
   'onnxscript'``). Fix: a function rewriter of ``torch.onnx.export`` (active only inside mmdeploy's
   ``RewriterContext``, i.e. only during mmdeploy's export) that passes ``dynamo=False``.
2. **``torch.onnx.utils._model_to_graph`` moved** to
   ``torch.onnx._internal.torchscript_exporter.utils``; mmdeploy's rewriter of it (the hook that runs
   its graph passes, e.g. the Squeeze/Unsqueeze fix for opset >= 13) no longer finds its target. Fix:
   the same rewriter registered on the new path.
3. mmdeploy pins ``protobuf<=3.20.2``; onnx 1.23 requires ``protobuf>=6.31.1``, so pip cannot install
   both. The install step installs mmdeploy with ``--no-deps`` and its other requirements itself
   (``requirements/deploy.txt``); mmdeploy's export path does not use protobuf itself (onnx does).

What works unchanged (checked by ``tests/test_deploy``): the mmdet, mmseg, mmpose and mmpretrain
codebases of mmdeploy with mmdet 3.3 / mmseg 1.2.2 / mmpose 1.3.2 / mmpretrain 1.2; the ONNX Runtime
backend wrapper (its custom-op library, built for onnxruntime 1.15, still loads in 1.32; the graphs
mmadapt exports use only standard ONNX ops, NMS included). mmdeploy's graph optimiser needs its
TorchScript extension, which the wheel does not ship: mmdeploy logs "Can not optimize model" and
exports the graph unoptimised, as it does on any install without it.
"""
import importlib
from typing import Optional

MMDEPLOY_VERSION = '1.3.1'
INSTALL_HINT = ('install the deployment extra: `make install-deploy` (or `DEPLOY=1 tools/install.sh`), which '
                f'adds mmdeploy {MMDEPLOY_VERSION}, onnx and onnxruntime')

_PATCHED = False


class DeployError(ValueError):
    """A deployment input that cannot be used (config, checkpoint, deploy config, shape, ONNX file) or
    an export that does not match PyTorch; the message names the problem."""


def require_mmdeploy() -> None:
    """Import mmdeploy, onnx and onnxruntime, and apply mmadapt's fixes (once per process).

    Raises:
        DeployError: naming the missing package and how to install the extra.
    """
    missing = []
    for name in ('mmdeploy', 'onnx', 'onnxruntime'):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise DeployError(f'{", ".join(missing)} not installed: {INSTALL_HINT}')
    import mmdeploy
    if mmdeploy.__version__ != MMDEPLOY_VERSION:
        raise DeployError(f'mmdeploy {mmdeploy.__version__} is installed; mmadapt is checked with '
                          f'{MMDEPLOY_VERSION} only: {INSTALL_HINT}')
    apply_patches()


def apply_patches() -> None:
    """Register mmadapt's rewriters with mmdeploy (idempotent). See the module docstring."""
    global _PATCHED
    if _PATCHED:
        return
    from mmdeploy.core import FUNCTION_REWRITER

    @FUNCTION_REWRITER.register_rewriter('torch.onnx.export')
    def onnx_export__torchscript(*args, **kwargs):
        """mmdeploy's export through the TorchScript exporter, the one its rewriters work with."""
        ctx = FUNCTION_REWRITER.get_context()
        kwargs.setdefault('dynamo', False)
        return ctx.origin_func(*args, **kwargs)

    importlib.import_module('torch.onnx._internal.torchscript_exporter.utils')  # the rewriter's target
    from mmdeploy.apis.onnx.optimizer import model_to_graph__custom_optimizer
    FUNCTION_REWRITER.register_rewriter(
        'torch.onnx._internal.torchscript_exporter.utils._model_to_graph')(model_to_graph__custom_optimizer)
    _PATCHED = True


def versions() -> dict:
    """Versions of the export stack (written into every export's ``deploy.json``)."""
    import onnx
    import onnxruntime
    import torch

    import mmdeploy
    return dict(torch=torch.__version__, mmdeploy=mmdeploy.__version__, onnx=onnx.__version__,
                onnxruntime=onnxruntime.__version__)


def ort_providers(device: str = 'cpu', providers: Optional[list] = None) -> list:
    """ONNX Runtime execution providers for ``device``: CPU, or CUDA (then CPU) on ``cuda[:N]``.

    Raises:
        DeployError: when the device's provider is not in this onnxruntime build.
    """
    import onnxruntime as ort
    available = ort.get_available_providers()
    if providers:
        bad = [p for p in providers if p not in available]
        if bad:
            raise DeployError(f'execution provider(s) {bad} not in this onnxruntime build (it has {available})')
        return list(providers)
    if str(device).startswith('cuda'):
        if 'CUDAExecutionProvider' not in available:
            raise DeployError(f'device {device!r}: this onnxruntime build has no CUDAExecutionProvider ({available}); '
                              'install onnxruntime-gpu')
        return ['CUDAExecutionProvider', 'CPUExecutionProvider']
    return ['CPUExecutionProvider']
