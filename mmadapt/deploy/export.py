"""ONNX export of an OpenMMLab model config + checkpoint through mmdeploy, checked against PyTorch.

:func:`export_onnx` is what ``tools/deploy.py`` runs:

1. the config (an mmdet, mmseg, mmpose or mmpretrain model config; mmadapt's derived, elastic-export
   and seed networks alike) and the checkpoint are checked first: an unknown file, a config without a
   model or of another codebase, and a checkpoint whose tensors do not fit the model (another
   architecture) are refused with a message naming the problem, before anything is written;
2. mmdeploy exports the model with the deploy config (``configs/deploy/<task>_onnxruntime_*.py`` by
   default: dynamic shapes for detection, static for the other tasks) into a temporary folder beside
   the output folder;
3. the ONNX model runs in ONNX Runtime (through mmdeploy's backend model, i.e. with the same pre- and
   post-processing) and the PyTorch model runs in test mode on the same real images (the config's
   test set, or ``--img``); their outputs are compared (:func:`compare_results`): class scores,
   segmentation logits and masks, heatmaps and keypoints, boxes/scores/labels after NMS;
4. only when every image matches within tolerance is the folder moved into place, holding
   ``end2end.onnx``, ``deploy.json`` (what was compared, every figure, the versions), ``model_cfg.py``
   and ``deploy_cfg.py`` (the pair mmdeploy's own tools take). A failed check raises
   :class:`DeployError` with the figures and leaves the output folder as it was.
"""
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config

from .compat import DeployError, require_mmdeploy, versions

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEPLOY_CONFIG_DIR = osp.join(ROOT, 'configs', 'deploy')
RANDOM_INIT = 'random_init.pth'  # the weights of an export without a checkpoint
# default_scope of a model config -> mmdeploy task (the prefix of configs/deploy/ files)
TASKS = dict(mmdet='detection', mmseg='segmentation', mmpose='pose-detection', mmpretrain='classification')
# the default deploy config's shapes: dynamic where the task needs it (detection: images of any size),
# static where that is faster and the input size is fixed anyway (the test pipeline's)
DEFAULT_SHAPES = dict(detection='dynamic', segmentation='static', classification='static')
DEFAULT_SHAPES['pose-detection'] = 'static'
# tolerances of compare_results: absolute on scores, heatmaps and keypoints (pixels); relative to the
# largest |value| (at least 1) on segmentation logits and box coordinates; det_match / pixel_agree are
# the least shares of detections matched and of pixels of the same class
TOLERANCES = dict(score=1e-4, logit=1e-3, heatmap=1e-4, keypoint=0.05, box=1e-3, det_score=1e-3,
                  det_iou=0.99, det_match=0.95, pixel_agree=0.999)


def load_model_config(config: Union[str, Config], cfg_options: Optional[dict] = None) -> Config:
    """The model config, with ``cfg_options`` merged; refused when missing or without a model."""
    if isinstance(config, Config):
        cfg = config.copy()
    else:
        if not osp.isfile(str(config)):
            raise DeployError(f'config {config}: no such file')
        try:
            cfg = Config.fromfile(config)
        except Exception as e:  # a syntax error, a missing _base_ ...
            raise DeployError(f'config {config} cannot be read: {type(e).__name__}: {e}') from None
    if cfg_options:
        from mmadapt.utils.config_values import check_option_keys
        check_option_keys(cfg, cfg_options, DeployError)
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise DeployError(f'config {cfg.filename}: no model field (is it a deploy config or a dataset config?)')
    task_of(cfg)
    if 'test_pipeline' not in cfg and 'test_dataloader' not in cfg:
        raise DeployError(f'config {cfg.filename}: no test_pipeline / test_dataloader; mmdeploy preprocesses '
                          'images with the test pipeline')
    if 'test_pipeline' not in cfg:
        cfg.test_pipeline = cfg.test_dataloader.dataset.pipeline
    return cfg


def task_of(cfg: Config) -> str:
    """The mmdeploy task of a model config, from its ``default_scope``."""
    scope = cfg.get('default_scope')
    if scope not in TASKS:
        raise DeployError(f'config {cfg.filename}: default_scope {scope!r} is not one of the codebases mmadapt '
                          f'exports ({", ".join(TASKS)})')
    return TASKS[scope]


def default_deploy_config(cfg: Config, shapes: Optional[str] = None) -> str:
    """``configs/deploy/<task>_onnxruntime_<shapes>.py`` for the model config ``cfg``."""
    task = task_of(cfg)
    shapes = shapes or DEFAULT_SHAPES[task]
    if shapes not in ('static', 'dynamic'):
        raise DeployError(f"shapes must be 'static' or 'dynamic', got {shapes!r}")
    path = osp.join(DEPLOY_CONFIG_DIR, f'{task}_onnxruntime_{shapes}.py')
    if not osp.isfile(path):
        raise DeployError(f'no {shapes} deploy config for {task}: {path} does not exist')
    return path


def load_deploy_config(deploy_cfg: Union[str, Config], model_cfg: Config,
                       shape: Optional[Sequence[int]] = None) -> Config:
    """The deploy config, checked against the model's task; ``shape`` = (H, W) fixes its input shape."""
    if not isinstance(deploy_cfg, Config):
        if not osp.isfile(str(deploy_cfg)):
            raise DeployError(f'deploy config {deploy_cfg}: no such file')
        deploy_cfg = Config.fromfile(deploy_cfg)
    for key in ('onnx_config', 'codebase_config', 'backend_config'):
        if key not in deploy_cfg:
            raise DeployError(f'deploy config {deploy_cfg.filename}: no {key} (an mmdeploy deploy config has '
                              'onnx_config, codebase_config and backend_config)')
    want = model_cfg.get('default_scope')
    if deploy_cfg.codebase_config.get('type') != want:
        raise DeployError(f"deploy config {deploy_cfg.filename} is for codebase "
                          f"{deploy_cfg.codebase_config.get('type')!r}, the model config's is {want!r}")
    if deploy_cfg.backend_config.get('type') != 'onnxruntime':
        raise DeployError(f"deploy config {deploy_cfg.filename}: backend {deploy_cfg.backend_config.get('type')!r}; "
                          'tools/deploy.py exports for onnxruntime (other backends: mmdeploy\'s tools/deploy.py '
                          'with the exported end2end.onnx)')
    if shape is not None:
        h, w = check_shape(shape)
        deploy_cfg.onnx_config.input_shape = [w, h]  # mmdeploy's order: (width, height)
    return deploy_cfg


def check_shape(shape) -> tuple:
    """(H, W) of an export, both at least 16."""
    from mmadapt.cost.latency import check_hw
    try:
        h, w = check_hw(shape)
    except ValueError:
        raise DeployError(f'shape must be two positive integers (H, W), got {shape!r}') from None
    if h < 16 or w < 16:
        raise DeployError(f'shape (H, W) = ({h}, {w}): both must be at least 16')
    return h, w


def is_dynamic(deploy_cfg: Config) -> bool:
    return bool(deploy_cfg.onnx_config.get('dynamic_axes'))


def check_checkpoint(cfg: Config, checkpoint: Optional[str]) -> dict:
    """Refuse a checkpoint whose tensors do not fit the config's model (another architecture)."""
    if checkpoint is None:
        return dict(matched=0, unexpected=0)
    from mmadapt.cost.config_cost import build_model_from_config
    from mmadapt.utils.checkpoint import CheckpointError, check_checkpoint_matches
    model = build_model_from_config(cfg)
    try:
        return check_checkpoint_matches(model, checkpoint)
    except CheckpointError as e:
        raise DeployError(str(e)) from None


def check_images(cfg: Config, img: Union[None, str, Sequence[str]] = None, num: int = 2) -> List[str]:
    """The images the export is checked on: ``img`` (files, or a folder's images), else the first
    ``num`` images of the config's test set."""
    if img:
        paths = []
        for item in ([img] if isinstance(img, str) else list(img)):
            if osp.isdir(item):
                paths += sorted(osp.join(item, f) for f in os.listdir(item)
                                if f.lower().endswith(('.png', '.jpg', '.jpeg', '.bmp')))[:num]
            elif osp.isfile(item):
                paths.append(item)
            else:
                raise DeployError(f'image {item}: no such file or folder')
        if not paths:
            raise DeployError(f'no images in {img}')
        return paths
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.default_scope)
    try:
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
        paths = []
        for i in range(len(dataset)):
            path = dataset.get_data_info(i).get('img_path')
            if path and path not in paths:
                paths.append(path)
            if len(paths) == num:
                break
    except Exception as e:
        raise DeployError(f'no images to check the export on: the test set of {cfg.filename} cannot be read '
                          f'({type(e).__name__}: {e}); give images with --img') from None
    if not paths:
        raise DeployError(f'the test set of {cfg.filename} is empty; give images with --img')
    return paths


# -- comparing PyTorch and ONNX Runtime results ---------------------------------------------------------
def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float64)


def _max_abs(a, b) -> float:
    a, b = _np(a), _np(b)
    if a.shape != b.shape:
        raise DeployError(f'PyTorch and ONNX Runtime outputs differ in shape: {a.shape} vs {b.shape}')
    return float(np.abs(a - b).max()) if a.size else 0.0


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area = lambda x: np.clip(x[:, 2:] - x[:, :2], 0, None).prod(-1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-12)


def match_detections(pt: dict, ort: dict, iou: float) -> dict:
    """Greedy one-to-one matching of two detection sets (dicts of ``bboxes`` (N, 4), ``scores``,
    ``labels``), highest PyTorch score first: a pair must have the same label and IoU >= ``iou``.

    Returns the counts, ``matched_share`` (the share of PyTorch's boxes found in ONNX Runtime's), the
    largest score and coordinate differences of the matched pairs, the highest score of a box left
    unmatched on either side and the median score of the matched boxes."""
    pb, ps, pl = _np(pt['bboxes']).reshape(-1, 4), _np(pt['scores']).reshape(-1), _np(pt['labels']).reshape(-1)
    ob, os_, ol = _np(ort['bboxes']).reshape(-1, 4), _np(ort['scores']).reshape(-1), _np(ort['labels']).reshape(-1)
    ious = _iou(pb, ob) if len(pb) and len(ob) else np.zeros((len(pb), len(ob)))
    used = np.zeros(len(ob), bool)
    found = np.zeros(len(pb), bool)
    score_diff, box_diff = 0.0, 0.0
    for i in np.argsort(-ps, kind='stable'):
        cand = np.where((~used) & (ol == pl[i]) & (ious[i] >= iou))[0] if len(ob) else []
        if len(cand) == 0:
            continue
        j = cand[np.argmax(ious[i, cand])]
        used[j] = found[i] = True
        score_diff = max(score_diff, abs(float(ps[i] - os_[j])))
        box_diff = max(box_diff, float(np.abs(pb[i] - ob[j]).max()))
    matched = int(found.sum())
    unmatched = np.concatenate([ps[~found], os_[~used]])
    return dict(pytorch=len(pb), onnxruntime=len(ob), matched=matched,
                matched_share=matched / len(pb) if len(pb) else float(len(ob) == 0),
                max_score_diff=score_diff, max_box_diff=box_diff,
                max_unmatched_score=float(unmatched.max()) if len(unmatched) else None,
                median_matched_score=float(np.median(ps[found])) if matched else None)


def compare_results(task: str, pt, ort, tol: Optional[dict] = None) -> dict:
    """Figures and a verdict for one image: ``pt`` / ``ort`` are the data samples the PyTorch model and
    mmdeploy's ONNX Runtime model return in test mode.

    - classification: max |score difference|, same top-1;
    - segmentation: max |logit difference| of the raw logits (field ``raw``), share of pixels of the
      final masks (``pred_sem_seg``) with the same class;
    - pose-detection: max |heatmap difference| (field ``raw``, when given), max keypoint difference (pixels) and
      keypoint score difference;
    - detection: boxes after NMS matched one to one (same label, IoU >= ``det_iou``): at least
      ``det_match`` of PyTorch's boxes found, with scores and coordinates within tolerance, and every
      box left unmatched on either side scoring below the median matched score. The two do not select
      NMS candidates alike: mmdet keeps the top ``nms_pre`` (anchor, class) pairs above the score
      threshold per level, mmdeploy's graph the top ``nms_pre`` anchors by their best class score, and
      both cut at ``max_per_img`` boxes; so near the score threshold and at the cut each side can hold
      low-scoring boxes the other never considered (measured on the demo's trained RetinaNet: 68 of
      PyTorch's 69 boxes found, 32 extra ONNX boxes, all scoring 0.053-0.074).
    """
    tol = dict(TOLERANCES, **(tol or {}))
    if task == 'classification':
        diff = _max_abs(pt.pred_score, ort.pred_score)
        same = int(_np(pt.pred_label).reshape(-1)[0]) == int(_np(ort.pred_label).reshape(-1)[0])
        return dict(max_score_diff=diff, same_top1=same, ok=bool(diff <= tol['score'] and same))
    if task == 'segmentation':
        if 'raw' not in pt or 'raw' not in ort:
            raise DeployError('segmentation: compare_results needs the raw logits of both (field raw)')
        pl, ol = _np(pt.raw), _np(ort.raw)
        if pl.shape != ol.shape:
            raise DeployError(f'segmentation logits differ in shape: PyTorch {pl.shape}, ONNX Runtime {ol.shape} '
                              '(export with with_argmax=False)')
        diff = _max_abs(pl, ol)
        scale = max(1.0, float(np.abs(pl).max()))
        agree = float((_np(pt.pred_sem_seg.data) == _np(ort.pred_sem_seg.data)).mean())
        return dict(max_logit_diff=diff, logit_scale=scale, pixel_agreement=agree,
                    ok=bool(diff <= tol['logit'] * scale and agree >= tol['pixel_agree']))
    if task == 'pose-detection':
        kp = float(np.abs(_np(pt.pred_instances.keypoints) - _np(ort.pred_instances.keypoints)).max())
        ks = _max_abs(pt.pred_instances.keypoint_scores, ort.pred_instances.keypoint_scores)
        out = dict(max_keypoint_diff=kp, max_keypoint_score_diff=ks)
        ok = kp <= tol['keypoint'] and ks <= tol['heatmap']
        if 'raw' in pt and 'raw' in ort:
            out['max_heatmap_diff'] = _max_abs(pt.raw, ort.raw)
            ok = ok and out['max_heatmap_diff'] <= tol['heatmap']
        return dict(out, ok=bool(ok))
    if task == 'detection':
        m = match_detections(pt.pred_instances, ort.pred_instances, tol['det_iou'])
        scale = max(1.0, float(np.abs(_np(pt.pred_instances.bboxes)).max(initial=0)))
        # boxes left unmatched (either side) must be low-scoring: below the median matched score (see below)
        low = m['max_unmatched_score'] is None or (m['median_matched_score'] is not None
                                                  and m['max_unmatched_score'] < m['median_matched_score'])
        ok = (m['matched_share'] >= tol['det_match'] and m['max_score_diff'] <= tol['det_score']
              and m['max_box_diff'] <= tol['box'] * scale and low)
        return dict(m, box_scale=scale, ok=bool(ok))
    raise DeployError(f'unknown task {task!r}')


def _run_both(task: str, task_processor, pt_model, backend_model, img: str, input_shape=None):
    """Test-mode results of the PyTorch and the ONNX Runtime model on one image (each on inputs of its
    own: test_step fills in the data samples it is given). For segmentation and pose the raw network
    outputs are added as the field ``raw``: the logits at the input's size (the ONNX graph's output,
    before mmdeploy's argmax) and the heatmaps. ``input_shape`` (W, H): a static export's shape."""
    with torch.no_grad():
        pt = pt_model.test_step(task_processor.create_input(img, input_shape)[0])[0]
        ort = backend_model.test_step(task_processor.create_input(img, input_shape)[0])[0]
        if task in ('segmentation', 'pose-detection'):
            data = pt_model.data_preprocessor(task_processor.create_input(img, input_shape)[0], False)
            inputs = data['inputs']
            if task == 'segmentation':
                pt_raw = pt_model.inference(inputs, [d.metainfo for d in data['data_samples']])
            else:
                pt_raw = pt_model(inputs, None, mode='tensor')
            ort_raw = backend_model.wrapper({backend_model.input_name: inputs})[backend_model.output_names[0]]
            pt.set_field(pt_raw, 'raw')
            ort.set_field(ort_raw, 'raw')
    return pt, ort


def dump_configs(folder: str, cfg: Config, dcfg: Config) -> tuple:
    """``folder/model_cfg.py`` and ``folder/deploy_cfg.py`` (the pair mmdeploy's tools take); their paths."""
    paths = osp.join(folder, 'model_cfg.py'), osp.join(folder, 'deploy_cfg.py')
    cfg.dump(paths[0])
    dcfg.dump(paths[1])
    return paths


def export_onnx(config: Union[str, Config], checkpoint: Optional[str], out: str,
                deploy_cfg: Union[None, str, Config] = None, img=None, shape: Optional[Sequence[int]] = None,
                shapes: Optional[str] = None, check: bool = True, num_images: int = 2,
                tolerances: Optional[dict] = None, cfg_options: Optional[dict] = None,
                device: str = 'cpu') -> dict:
    """Export ``config`` + ``checkpoint`` to ``out/end2end.onnx`` and check it against PyTorch.

    Args:
        config: model config (file or Config). checkpoint: its weights (None: random initialisation,
            for latency only, saved as ``out/random_init.pth``). out: output folder (replaced only when the export is complete and checked).
        deploy_cfg: mmdeploy deploy config (default: :func:`default_deploy_config`, with ``shapes``
            'static' or 'dynamic'). shape: (H, W) of the export (default: the test pipeline's).
        img: images to export with and check on (default: the first ``num_images`` of the test set).
        check: compare with PyTorch (``tolerances`` override :data:`TOLERANCES`).
        cfg_options: entries of the model config to replace.

    Returns:
        The report written to ``out/deploy.json``.
    """
    require_mmdeploy()
    start = time.time()
    cfg = load_model_config(config, cfg_options)
    task = task_of(cfg)
    if deploy_cfg is None:
        deploy_cfg = default_deploy_config(cfg, shapes)
    dcfg = load_deploy_config(deploy_cfg, cfg, shape)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise DeployError(f'checkpoint {checkpoint}: no such file')
    fit = check_checkpoint(cfg, checkpoint)
    images = check_images(cfg, img, num_images)

    from mmdeploy.apis import torch2onnx
    from mmdeploy.apis.utils import build_task_processor

    from mmadapt.utils.fileio import atomic_write_text, make_temp_dir, move_folder_into_place
    out = osp.abspath(out)
    parent = osp.dirname(out)
    tmp = make_temp_dir(parent, prefix=f'.{osp.basename(out)}.deploy-')
    try:
        model_cfg_path, deploy_cfg_path = dump_configs(tmp, cfg, dcfg)
        note = None
        if checkpoint is None:  # one set of random weights for the export and the check, kept beside them
            from mmadapt.cost.config_cost import build_model_from_config
            model = build_model_from_config(cfg)
            model.init_weights()
            checkpoint = osp.join(tmp, RANDOM_INIT)
            torch.save(dict(state_dict=model.state_dict()), checkpoint)
            note = f'random weights (no checkpoint), saved as {RANDOM_INIT}'
        t0 = time.time()
        torch2onnx(images[0], tmp, 'end2end.onnx', deploy_cfg_path, model_cfg_path, checkpoint, device)
        onnx_path = osp.join(tmp, 'end2end.onnx')
        if not osp.isfile(onnx_path):
            raise DeployError(f'mmdeploy wrote no ONNX model for {cfg.filename} (see the log above)')
        export_seconds = time.time() - t0
        report = dict(config=cfg.filename, checkpoint=osp.join(out, RANDOM_INIT) if note else osp.abspath(checkpoint),
                      note=note, task=task,
                      deploy_config=dcfg.filename, input_shape=dcfg.onnx_config.get('input_shape'),
                      dynamic=is_dynamic(dcfg), opset=dcfg.onnx_config.get('opset_version'),
                      onnx_bytes=osp.getsize(onnx_path), checkpoint_tensors=fit['matched'],
                      versions=versions(), export_seconds=round(export_seconds, 2), images=images)
        if check:
            tp = build_task_processor(Config.fromfile(model_cfg_path), Config.fromfile(deploy_cfg_path), device)
            pt_model = tp.build_pytorch_model(checkpoint).eval()
            backend_model = tp.build_backend_model([onnx_path])
            checks = []
            for path in images:
                pt, ort = _run_both(task, tp, pt_model, backend_model, path, dcfg.onnx_config.get('input_shape'))
                checks.append(dict(image=path, **compare_results(task, pt, ort, tolerances)))
            report.update(checks=checks, tolerances=dict(TOLERANCES, **(tolerances or {})),
                          passed=all(c['ok'] for c in checks))
            if not report['passed']:
                bad = [c for c in checks if not c['ok']]
                raise DeployError(f'the ONNX model of {cfg.filename} does not match PyTorch on {len(bad)} of '
                                  f'{len(checks)} images: {json.dumps(bad[0])}; nothing written to {out}')
        else:
            report.update(checks=[], passed=None)
        report['seconds'] = round(time.time() - start, 2)
        report['onnx'] = osp.join(out, 'end2end.onnx')
        atomic_write_text(osp.join(tmp, 'deploy.json'), json.dumps(report, indent=1, default=str) + '\n')
        try:
            move_folder_into_place(tmp, out, last=('deploy.json', ))
        except NotADirectoryError as e:
            raise DeployError(str(e)) from None
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return report


def read_report(folder: str) -> Dict:
    """The ``deploy.json`` of an export folder."""
    from mmadapt.utils.fileio import read_json_object
    path = osp.join(folder, 'deploy.json')
    if not osp.isfile(path):
        raise DeployError(f'{folder} holds no deploy.json (not a tools/deploy.py output folder)')
    return read_json_object(path)
