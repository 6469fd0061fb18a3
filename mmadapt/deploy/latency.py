"""Latency of a model config in PyTorch and in ONNX Runtime, side by side on one machine.

:func:`benchmark_latency` (``tools/analysis/benchmark_latency.py``) times four callables on the same
preprocessed input, alternately (the order flipped every round, so that a noisy machine slows all
alike; ``pytorch_graph`` in a block of its own, see :meth:`LatencyCase.time_graph`), after a warm-up:

- ``pytorch``: the model's own inference in PyTorch, ``model(x, data_samples, mode='predict')`` (the
  framework's post-processing included: NMS, keypoint decoding, resizing masks; data loading and
  normalisation excluded, as for the ONNX model);
- ``pytorch_net``: the network alone in PyTorch, ``model(x, mode='tensor')`` (what the MAdds count);
- ``pytorch_graph``: mmdeploy's rewritten forward in PyTorch, i.e. exactly the computation the ONNX
  graph holds (for detection the ONNX-style NMS, for pose the heatmaps only);
- ``onnxruntime``: the ONNX model in an ONNX Runtime session (``intra_op_num_threads`` = threads).

Figures: median, 10th / 90th percentile and minimum in ms over ``repeats`` timed calls, per batch of
``batch`` images, with the thread count, the input shape, the device and the versions. Batch > 1 needs
an ONNX model with a dynamic batch axis (the default export here then uses the task's dynamic deploy
config).
"""
import os.path as osp
import shutil
import tempfile
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from mmadapt.cost.latency import spread

from .compat import DeployError, ort_providers, require_mmdeploy, versions
from .export import RANDOM_INIT, default_deploy_config, export_onnx, load_deploy_config, load_model_config, task_of

BACKENDS = ('pytorch', 'pytorch_net', 'pytorch_graph', 'onnxruntime')


def ort_session(onnx_path: str, threads: Optional[int] = None, device: str = 'cpu', providers=None):
    """An ONNX Runtime session of ``onnx_path`` with ``threads`` intra-op threads (one inter-op)."""
    import onnxruntime as ort
    if not osp.isfile(onnx_path):
        raise DeployError(f'ONNX model {onnx_path}: no such file')
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(onnx_path, so, providers=ort_providers(device, providers))
    except Exception as e:  # onnxruntime raises its own exception types
        raise DeployError(f'ONNX model {onnx_path} cannot be loaded by onnxruntime: {e}') from None


def _input_batch(task_processor, model, img, static_shape, batch: int):
    """A preprocessed batch of ``batch`` copies of ``img`` and its data samples."""
    data, _ = task_processor.create_input(img, static_shape, data_preprocessor=None)
    data = model.data_preprocessor(data, False)
    x, samples = data['inputs'], data['data_samples']
    if batch > 1:
        x = x.repeat(batch, 1, 1, 1)
        samples = _copies([samples[0]] * batch)
    return x, samples


class LatencyCase:
    """The callables timed for one model: ``fns`` (name -> callable, timed alternately with other
    cases') and ``graph`` (the ``pytorch_graph`` callable, or None; it runs inside mmdeploy's
    rewriters, see :meth:`time_graph`), with the facts of the protocol in ``meta``."""

    def __init__(self, fns, graph, meta, model, dcfg, cleanup):
        self.fns, self.graph, self.meta = fns, graph, meta
        self._model, self._dcfg, self._cleanup = model, dcfg, cleanup

    def time_graph(self, repeats: int, device: str, warmup: int) -> Dict[str, list]:
        """Seconds of each timed ``pytorch_graph`` call (entering the rewriters patches functions: not
        per call, so this is timed in a block of its own)."""
        if self.graph is None:
            return {}
        from mmdeploy.core import RewriterContext
        from mmdeploy.utils import IR

        from mmadapt.cost.latency import alternate_times
        with RewriterContext(cfg=self._dcfg, backend='onnxruntime', ir=IR.ONNX,
                             opset=self._dcfg.onnx_config.get('opset_version', 11)), torch.no_grad():
            return alternate_times(dict(pytorch_graph=self.graph), repeats, device, warmup)

    def close(self):
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
            self._cleanup = None


def latency_case(config: Union[str, Config], checkpoint: Optional[str] = None, onnx: Optional[str] = None,
                 shape: Optional[Sequence[int]] = None, batch: int = 1, threads: Optional[int] = 1,
                 backends: Sequence[str] = BACKENDS, img=None, device: str = 'cpu',
                 cfg_options: Optional[dict] = None, deploy_cfg: Union[None, str, Config] = None) -> LatencyCase:
    """Build the model (and, without ``onnx``, export it unchecked to a temporary folder) and the
    callables of ``backends`` on one preprocessed batch (see :func:`benchmark_latency`)."""
    require_mmdeploy()
    bad = [b for b in backends if b not in BACKENDS]
    if bad or not backends:
        raise DeployError(f'backends must be among {list(BACKENDS)}, got {list(backends)}')
    from mmadapt.utils.config_values import config_field_number
    batch = config_field_number(batch, 'batch', low=1, integer=True, error=DeployError)
    if threads is not None:
        threads = config_field_number(threads, 'threads', low=1, integer=True, error=DeployError)
    cfg = load_model_config(config, cfg_options)
    task = task_of(cfg)
    if deploy_cfg is None:
        deploy_cfg = default_deploy_config(cfg, 'dynamic' if batch > 1 and task != 'pose-detection' else None)
    dcfg = load_deploy_config(deploy_cfg, cfg, shape)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise DeployError(f'checkpoint {checkpoint}: no such file')
    from mmdeploy.apis.utils import build_task_processor
    from mmdeploy.core import patch_model
    from mmdeploy.utils import IR

    from .export import check_checkpoint, check_images
    exporting = onnx is None and 'onnxruntime' in backends
    if not exporting:  # else export_onnx checks it
        check_checkpoint(cfg, checkpoint)
    if img is None:
        try:
            img = check_images(cfg, None, 1)[0]
        except DeployError:  # no test set: a random image
            h, w = shape or (224, 224)
            img = np.random.default_rng(0).integers(0, 256, (int(h), int(w), 3), dtype=np.uint8)
    tmp, random_weights = None, checkpoint is None
    try:
        if exporting:
            tmp = tempfile.mkdtemp(prefix='mmadapt-latency-')
            if isinstance(img, np.ndarray):  # mmdeploy's export reads the image from a file
                import cv2
                cv2.imwrite(osp.join(tmp, 'input.png'), img)
            export_onnx(cfg, checkpoint, osp.join(tmp, 'export'), deploy_cfg=dcfg, device=device, check=False,
                        img=osp.join(tmp, 'input.png') if isinstance(img, np.ndarray) else img)
            onnx = osp.join(tmp, 'export', 'end2end.onnx')
            if checkpoint is None:  # the weights the graph was exported with
                checkpoint = osp.join(tmp, 'export', RANDOM_INIT)
        tp = build_task_processor(cfg, dcfg, device)
        model = tp.build_pytorch_model(checkpoint).eval()
        x, samples = _input_batch(tp, model, img, dcfg.onnx_config.get('input_shape'), batch)
        fns, session = {}, None
        if 'pytorch' in backends:
            fns['pytorch'] = lambda: model(x, _copies(samples), mode='predict')
        if 'pytorch_net' in backends:
            fns['pytorch_net'] = lambda: model(x, None, mode='tensor')
        if 'onnxruntime' in backends:
            session = ort_session(onnx, threads, device)
            inp = session.get_inputs()[0]
            if isinstance(inp.shape[0], int) and inp.shape[0] != batch:
                raise DeployError(f'{onnx} has a fixed batch of {inp.shape[0]}; batch {batch} needs an export with a '
                                  'dynamic batch axis (a dynamic deploy config)')
            feed = {inp.name: x.cpu().numpy()}
            fns['onnxruntime'] = lambda: session.run(None, feed)
        graph = None
        if 'pytorch_graph' in backends:
            patched = patch_model(model, cfg=dcfg, backend='onnxruntime', ir=IR.ONNX)
            graph = lambda: patched(x, data_samples=_copies(samples), mode='predict')  # noqa: E731
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    from mmadapt.cost.latency import device_name
    meta = dict(config=cfg.filename, checkpoint=None if random_weights else checkpoint, onnx=None if tmp else onnx,
                task=task,
                input_shape=list(x.shape), batch=batch, threads=threads if threads else torch.get_num_threads(),
                device=device, device_name=device_name(device), versions=versions(),
                providers=session.get_providers() if session is not None else None,
                note='random weights (no checkpoint)' if random_weights else None)
    return LatencyCase(fns, graph, meta, model, dcfg, tmp)


def rows_of(times: Dict[str, list], batch: int, order: Sequence[str] = BACKENDS) -> Dict[str, dict]:
    """:func:`spread` in ms of each timed callable (seconds per call), with ``per_image_ms``."""
    rows = {k: spread([1e3 * t for t in times[k]]) for k in order if k in times}
    for r in rows.values():
        r['per_image_ms'] = r['median_ms'] / batch
    return rows


def benchmark_latency(config: Union[str, Config], checkpoint: Optional[str] = None, onnx: Optional[str] = None,
                      shape: Optional[Sequence[int]] = None, batch: int = 1, threads: Optional[int] = 1,
                      warmup: int = 10, repeats: int = 50, backends: Sequence[str] = BACKENDS, img=None,
                      device: str = 'cpu', cfg_options: Optional[dict] = None,
                      deploy_cfg: Union[None, str, Config] = None) -> Dict:
    """Latency of ``config`` in PyTorch and ONNX Runtime (see the module docstring).

    Args:
        config / checkpoint: the model (checkpoint None: random weights; a detector's NMS time then
            reflects random scores). onnx: its exported ``end2end.onnx`` (default: exported here,
            unchecked, into a temporary folder). shape: (H, W) of a static export / the input image.
        batch / threads / warmup / repeats: the protocol (threads None: the libraries' defaults).
        backends: any of :data:`BACKENDS`. img: the image (default: the first test-set image, else a
            random image of ``shape``).
    """
    from mmadapt.cost.latency import alternate_times, num_threads
    case = latency_case(config, checkpoint, onnx, shape, batch, threads, backends, img, device, cfg_options,
                        deploy_cfg)
    try:
        with num_threads(threads), torch.no_grad():
            times = alternate_times(case.fns, repeats, device, warmup) if case.fns else {}
            times.update(case.time_graph(repeats, device, warmup))
    finally:
        case.close()
    return dict(case.meta, warmup=warmup, rows=rows_of(times, batch))


def _copies(samples):
    """Fresh data samples for one call (predict writes its results into the samples it is given)."""
    return [s.clone() if hasattr(s, 'clone') else s for s in samples]
