"""ONNX export of a DS-Net classifier (one gate) as a gate graph and one graph per static route.

Why not one graph. ONNX can hold data-dependent control flow (``If`` nodes), but the TorchScript
exporter (the one mmdeploy's rewriters work with, :mod:`mmadapt.deploy.compat`) traces the model: it
records the one path the example input takes. A DS-Net route is not a branch between fixed tensors:
its widths change the tensor shapes of every layer after the gate, so one traced graph cannot switch
widths per input. The masked form (the widest route with the channels of the narrower routes
multiplied by 0/1 masks, :meth:`DSBackbone.set_dynamic` ``masked=True``) is one graph, but it computes
the widest route for every image: no speed-up, which is the point of a dynamic network. So the export
is several graphs and a small runtime:

* ``gate/gate.onnx``: the **gate graph**, image -> (gate logits (1, K), the trunk output ``y``, the
  trunk's ``out_indices`` outputs): the stem and the stages before the gated stages
  (:meth:`DSBackbone.forward_trunk`) and the gate (:meth:`DSBackbone.gate_choice_logits`; choices
  that the config's ``train_cfg.gate_choices`` excludes are ``-inf``). Exported here with
  ``torch.onnx.export`` (TorchScript, opset 11).
* ``route_<k>/``: for every route the gate can pick, the **route graph**: the route as a classifier
  of its own (:func:`mmadapt.models.subnet_export.export_subnet` with ``route=k``, as ``tools/export_subnet.py``: the route's backbone, the model's neck
  and head), exported and checked with :func:`mmadapt.deploy.export_onnx` (``end2end.onnx``,
  ``deploy.json``, ``config.py`` + ``subnet.pth`` of the route; a linear head is cut to the route's
  output width: the DS-Net zero-pads a route's output to the max width, so the head's weights of the
  padded channels multiply zeros). A route graph takes the **image**:
  it recomputes the trunk that the gate graph already ran. That is the simplest form (every route
  graph is an ordinary mmdeploy classifier export, usable alone), at the price of running the trunk
  twice per image; :func:`latency_dsnet` measures the trunk's share of a route's time (PyTorch trunk
  / route, and the whole gate graph / route in ONNX Runtime: an upper bound of what is recomputed).
* :class:`DSNetRuntime`: per image, the gate graph's argmax picks the route graph that gives the
  class scores.

The check (:func:`export_dsnet`) runs the runtime on real images (the config's test set, first
``num_images``, or ``img``) beside the PyTorch model in grouped evaluation mode: every image must take
the same route as in PyTorch (``backbone.last_choices``) and get class scores within ``tolerances``
of the dynamic model's; the gate graph must give PyTorch's gate logits (checked first, before the
routes are exported) and every route graph the DS-Net's scores at that static route. The export is
written into a temporary folder beside ``out`` and moved into place only when complete and
checked; a failed check raises :class:`DeployError` and leaves nothing. ``out/dsnet.json`` holds the
routes with their MAdds (the classifier at the input size, the attention heads included,
:func:`mmadapt.methods.dsnet.route_madds`), the gate's MAdds, the trunk's, the check figures and the
share of the check images per route; :func:`latency_dsnet` adds the latencies.

Only single-gate DS-Nets export this way (DS-MBNet; a DS-Net with several gates would need a gate
graph after every gated stage group); classifiers only (mmpretrain configs).
"""
import json
import os
import os.path as osp
import shutil
import time
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config

from mmadapt.models.subnet_export import export_subnet

from .compat import DeployError, require_mmdeploy, versions
from .export import (check_checkpoint, check_images, default_deploy_config, dump_configs, export_onnx,
                     load_deploy_config, load_model_config, task_of)

REPORT = 'dsnet.json'
GATE_ONNX = osp.join('gate', 'gate.onnx')
# max |class score difference| between the runtime and the PyTorch dynamic model (and between a route graph
# and the DS-Net at that route); max |gate logit difference| of the gate graph, relative to the largest
# |logit| (at least 1)
TOLERANCES = dict(score=1e-4, gate_logit=1e-3)
OPSET = 11


class GateGraph(nn.Module):
    """What ``gate.onnx`` holds: image -> (gate logits, trunk output, trunk out_indices outputs...)."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor):
        y, outs = self.backbone.forward_trunk(x)
        return (self.backbone.gate_choice_logits(y), y) + tuple(outs)


def _route_dir(k: int) -> str:
    return f'route_{k}'


def _backbone_cfg(cfg: Config) -> dict:
    model = cfg.model
    bcfg = model.get('backbone')
    if not isinstance(bcfg, dict) or bcfg.get('type') not in ('mmadapt.DSBackbone', 'DSBackbone'):
        raise DeployError(f'config {cfg.filename}: the backbone is not a DS-Net backbone (mmadapt.DSBackbone), '
                          f"it is {bcfg.get('type') if isinstance(bcfg, dict) else bcfg!r}; export other models with "
                          'export_onnx (tools/deploy.py without --dsnet)')
    return bcfg


def _check_single_gate(num_gates: int, what: str) -> None:
    if num_gates != 1:
        raise DeployError(f'{what}: the DS-Net backbone has {num_gates} gates; only single-gate DS-Nets export '
                          'as a gate graph and one graph per route (the routes of several gates would need a '
                          'gate graph after every gated stage group)')


def _gate_choices(cfg: Config) -> Optional[list]:
    """The routing space Stage II trained the gate on (``train_cfg.gate_choices``), None: all."""
    train_cfg = cfg.get('train_cfg') or {}
    return train_cfg.get('gate_choices') if isinstance(train_cfg, dict) else None


def _scores(model, logits: torch.Tensor) -> torch.Tensor:
    """Class scores as mmdeploy's classifier graph gives them (sigmoid for multi-label heads)."""
    from mmpretrain.models.heads import MultiLabelClsHead
    if isinstance(getattr(model, 'head', None), MultiLabelClsHead):
        return torch.sigmoid(logits)
    return F.softmax(logits, dim=1)


def _fix_paths(report_path: str, tmp: str, final: str) -> None:
    """Rewrite the paths an export recorded inside ``tmp`` to where they lie after the move."""
    from mmadapt.utils.fileio import atomic_write_text, read_json_object
    report = read_json_object(report_path)
    for key, value in report.items():
        if isinstance(value, str) and value.startswith(tmp + os.sep):
            report[key] = final + value[len(tmp):]
    atomic_write_text(report_path, json.dumps(report, indent=1, default=str) + '\n')


def _check_output(out: str) -> bool:
    """Whether ``out`` exists; refused unless it is an empty folder or an earlier DS-Net export."""
    if not osp.lexists(out):
        return False
    if not osp.isdir(out) or osp.islink(out):
        raise DeployError(f'output {out} exists and is not a folder')
    if os.listdir(out) and not osp.isfile(osp.join(out, REPORT)):
        raise DeployError(f'output {out} exists, is not empty and holds no {REPORT} (not a DS-Net export '
                          'folder): give a new or empty folder')
    return True


def _replace_folder(tmp: str, out: str) -> None:
    """Make the complete folder ``tmp`` the folder ``out``. An existing ``out`` must be empty or an
    earlier DS-Net export (it holds ``dsnet.json``): it is replaced whole (its route folders cannot be
    replaced file by file)."""
    from mmadapt.utils.fileio import make_temp_dir, move_folder_into_place
    old = None
    if _check_output(out):
        old = make_temp_dir(osp.dirname(out), prefix=f'.{osp.basename(out)}.old-')
        os.rename(out, osp.join(old, 'previous'))
    move_folder_into_place(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_dsnet_report(folder: str) -> Dict:
    """The ``dsnet.json`` of a DS-Net export folder."""
    from mmadapt.utils.fileio import read_json_object
    path = osp.join(folder, REPORT)
    if not osp.isfile(path):
        raise DeployError(f'{folder} holds no {REPORT} (not an export_dsnet / tools/deploy.py --dsnet output folder)')
    try:
        return read_json_object(path)
    except ValueError as e:
        raise DeployError(f'{path}: {e}') from None


class DSNetRuntime:
    """The exported DS-Net in ONNX Runtime: per image, ``gate.onnx``'s argmax picks the route graph.

    Args:
        folder: an :func:`export_dsnet` output folder (or the temporary folder while it is checked).
        threads / device: of every ONNX Runtime session (:func:`mmadapt.deploy.latency.ort_session`).
    """

    def __init__(self, folder: str, threads: Optional[int] = None, device: str = 'cpu',
                 report: Optional[dict] = None):
        from .latency import ort_session
        report = report if report is not None else read_dsnet_report(folder)
        self.gate = ort_session(osp.join(folder, report['gate']['onnx']), threads, device)
        self.gate_input = self.gate.get_inputs()[0].name
        self.routes = {}
        for k, r in report['routes'].items():
            session = ort_session(osp.join(folder, r['onnx']), threads, device)
            self.routes[int(k)] = (session, session.get_inputs()[0].name)

    def gate_logits(self, x: np.ndarray) -> np.ndarray:
        """(1, K) gate logits of one preprocessed image (1, 3, H, W)."""
        return self.gate.run([self.gate.get_outputs()[0].name], {self.gate_input: x})[0]

    def route_scores(self, k: int, x: np.ndarray) -> np.ndarray:
        session, name = self.routes[k]
        return session.run(None, {name: x})[0]

    def __call__(self, x: Union[np.ndarray, torch.Tensor]):
        """Routes (N,) and class scores (N, C) of a batch of preprocessed images, one image at a time."""
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        choices, scores = [], []
        for i in range(x.shape[0]):
            xi = np.ascontiguousarray(x[i:i + 1], dtype=np.float32)
            k = int(np.argmax(self.gate_logits(xi), axis=1)[0])
            if k not in self.routes:
                raise DeployError(f'the gate picked route {k}, which was not exported (routes {sorted(self.routes)})')
            choices.append(k)
            scores.append(self.route_scores(k, xi)[0])
        return np.asarray(choices), np.stack(scores)


def export_dsnet(config: Union[str, Config], checkpoint: Optional[str], out: str, img=None, check: bool = True,
                 num_images: int = 8, cfg_options: Optional[dict] = None,
                 deploy_cfg: Union[None, str, Config] = None, shape: Optional[Sequence[int]] = None,
                 tolerances: Optional[dict] = None, device: str = 'cpu') -> dict:
    """Export a single-gate DS-Net classifier as ``out/gate/gate.onnx`` + ``out/route_<k>/`` and check
    the runtime against PyTorch (see the module docstring).

    Args:
        config: the DS-Net model config (file or Config; an mmpretrain classifier with an
            ``mmadapt.DSBackbone``). checkpoint: its weights (None: random initialisation, saved into
            the export, for latency only). out: output folder (new, empty or an earlier DS-Net export).
        img: images to check on (default: the first ``num_images`` of the test set).
        check: run the checks (``tolerances`` override :data:`TOLERANCES`).
        cfg_options: entries of the model config to replace. deploy_cfg / shape: as
            :func:`mmadapt.deploy.export_onnx` (default: the static classification deploy config).

    Returns:
        The report written to ``out/dsnet.json``.
    """
    require_mmdeploy()
    start = time.time()
    bad = set(tolerances or {}) - set(TOLERANCES)
    if bad:
        raise DeployError(f'unknown tolerances {sorted(bad)} (export_dsnet has {sorted(TOLERANCES)})')
    tol = dict(TOLERANCES, **(tolerances or {}))
    cfg = load_model_config(config, cfg_options)
    if task_of(cfg) != 'classification':
        raise DeployError(f'config {cfg.filename}: export_dsnet exports DS-Net classifiers (mmpretrain); '
                          f'this is a {task_of(cfg)} config')
    bcfg = _backbone_cfg(cfg)
    _check_single_gate(len(bcfg.get('gates') or []), f'config {cfg.filename}')
    dcfg = load_deploy_config(deploy_cfg if deploy_cfg is not None else default_deploy_config(cfg), cfg, shape)
    if checkpoint is not None and not osp.isfile(checkpoint):
        raise DeployError(f'checkpoint {checkpoint}: no such file')
    check_checkpoint(cfg, checkpoint)
    images = check_images(cfg, img, num_images)

    from mmdeploy.apis.utils import build_task_processor

    from mmadapt.methods.dsnet import gate_madds, route_madds, trunk_madds
    from mmadapt.models.backbones import DSBackbone
    from mmadapt.utils.fileio import atomic_write_text, make_temp_dir
    out = osp.abspath(out)
    _check_output(out)
    parent = osp.dirname(out)
    tmp = make_temp_dir(parent, prefix=f'.{osp.basename(out)}.dsnet-')
    try:
        model_cfg_path, deploy_cfg_path = dump_configs(tmp, cfg, dcfg)
        tp = build_task_processor(Config.fromfile(model_cfg_path), Config.fromfile(deploy_cfg_path), device)
        model = tp.build_pytorch_model(checkpoint).eval()
        backbone = model.backbone
        if not isinstance(backbone, DSBackbone):
            raise DeployError(f'config {cfg.filename}: the model\'s backbone is {type(backbone).__name__}, '
                              'not a DSBackbone')
        _check_single_gate(len(backbone.gate_stages), f'config {cfg.filename}')
        note = None
        if checkpoint is None:  # the routes are exported from a checkpoint: save the random weights
            checkpoint = osp.join(tmp, 'random_init.pth')
            torch.save(dict(state_dict=model.state_dict()), checkpoint)
            note = 'random weights (no checkpoint)'
        gate_choices = _gate_choices(cfg)
        if gate_choices is not None:
            try:
                backbone.set_allowed_choices(gate_choices)
            except ValueError as e:
                raise DeployError(f'config {cfg.filename}: train_cfg.gate_choices: {e}') from None
        routes = [(k, ) for k in backbone.allowed_choices(0)]
        input_shape = dcfg.onnx_config.get('input_shape')
        _, x = tp.create_input(images, input_shape, data_preprocessor=model.data_preprocessor)
        x = x.to(device)
        if len({tuple(t.shape) for t in x}) != 1:
            raise DeployError('the check images preprocess to different shapes; the gate graph has a static '
                              'shape: give --shape (or a deploy config with input_shape)')

        # the gate graph
        gate_path = osp.join(tmp, GATE_ONNX)
        os.makedirs(osp.dirname(gate_path))
        num_trunk_outs = len(backbone.forward_trunk(x[:1])[1])
        output_names = ['gate_logits', 'trunk'] + [f'trunk_out{i}' for i in range(num_trunk_outs)]
        t0 = time.time()
        with torch.no_grad():
            torch.onnx.export(GateGraph(backbone).eval(), (x[:1], ), gate_path, dynamo=False, opset_version=OPSET,
                              input_names=['input'], output_names=output_names, do_constant_folding=True)
        gate_seconds = time.time() - t0
        if check:  # the gate graph first: a mismatch here fails before the routes are exported
            gate_check = _check_gate(gate_path, backbone, x, tol['gate_logit'])
            if not gate_check['ok']:
                raise DeployError(f'the gate graph of {cfg.filename} does not match PyTorch: '
                                  f'{json.dumps(gate_check)}; nothing written to {out}')

        # one classifier per route, from the route's own config + checkpoint
        route_reports = {}
        for route in routes:
            k = route[0]
            folder = osp.join(tmp, _route_dir(k))
            try:
                export_subnet(model_cfg_path, checkpoint, None, folder, route=str(k))
            except ValueError as e:
                raise DeployError(f'route {k}: {e}') from None
            route_reports[k] = export_onnx(osp.join(folder, 'config.py'), osp.join(folder, 'subnet.pth'), folder,
                                           deploy_cfg=dcfg, img=images, check=check, num_images=num_images,
                                           device=device)
            _fix_paths(osp.join(folder, 'deploy.json'), tmp, out)

        input_hw = tuple(int(v) for v in x.shape[2:])
        head = cfg.model.get('head') or {}
        num_classes = head.get('num_classes')
        madds = route_madds(backbone, input_hw, num_classes)
        report = dict(
            config=cfg.filename,
            checkpoint=osp.abspath(checkpoint) if note is None else osp.join(out, 'random_init.pth'),
            note=note, design='gate graph (image -> gate logits, trunk outputs) + one whole-classifier graph per '
                              'route taking the image (each route graph recomputes the trunk)',
            deploy_config=dcfg.filename, input_shape=list(x.shape[1:]), opset=OPSET, gate_choices=gate_choices,
            gate=dict(onnx=GATE_ONNX, outputs=output_names, onnx_bytes=osp.getsize(gate_path),
                      export_seconds=round(gate_seconds, 2), num_choices=backbone.num_choices[0],
                      first_gated_stage=backbone.gate_stages[0][0]),
            gate_madds=gate_madds(backbone), trunk_madds=trunk_madds(backbone, input_hw),
            madds_of='the classifier (backbone, attention heads, linear head)' if num_classes else 'the backbone',
            routes={str(k): dict(route=list(route), onnx=osp.join(_route_dir(k), 'end2end.onnx'),
                                 madds=float(madds[backbone.route_index(route)]),
                                 onnx_bytes=route_reports[k]['onnx_bytes'],
                                 export_checked=route_reports[k]['passed'])
                    for route, k in ((r, r[0]) for r in routes)},
            versions=versions(), images=images)
        if check:
            report['gate']['check'] = gate_check
        for r in report['routes'].values():
            r['trunk_share_madds'] = report['trunk_madds'] / r['madds']

        if check:
            report.update(_check(tmp, report, model, backbone, x, routes, tol))
            if not report['passed']:
                bad = [c for c in report['checks'] if not c['ok']]
                what = (f'{len(bad)} of {len(report["checks"])} images: {json.dumps(bad[0])}' if bad else
                        f'the route graphs: {json.dumps(report["route_checks"])}')
                raise DeployError(f'the exported DS-Net of {cfg.filename} does not match PyTorch on {what}; '
                                  f'nothing written to {out}')
        else:
            report.update(checks=[], route_checks={}, passed=None, route_share=None)
        report['seconds'] = round(time.time() - start, 2)
        atomic_write_text(osp.join(tmp, REPORT), json.dumps(report, indent=1, default=str) + '\n')
        _replace_folder(tmp, out)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return report


def _check_gate(gate_path: str, backbone, x: torch.Tensor, tolerance: float) -> dict:
    """The gate graph's logits against PyTorch's on every image (relative to the largest finite
    |logit|, at least 1) and the same argmax."""
    from .latency import ort_session
    session = ort_session(gate_path)
    name = session.get_inputs()[0].name
    with torch.no_grad():
        pt = backbone.gate_choice_logits(backbone.forward_trunk(x)[0]).cpu().numpy()
    xs = x.detach().cpu().numpy().astype(np.float32)
    ort = np.concatenate([session.run(['gate_logits'], {name: xs[i:i + 1]})[0] for i in range(len(xs))])
    finite = np.isfinite(pt)
    if not np.array_equal(finite, np.isfinite(ort)):
        return dict(ok=False, reason='the excluded choices (-inf logits) differ')
    scale = max(1.0, float(np.abs(pt[finite]).max()))
    diff = float(np.abs(pt[finite] - ort[finite]).max())
    same = bool((pt.argmax(1) == ort.argmax(1)).all())
    return dict(max_logit_diff=diff, logit_scale=scale, same_argmax=same,
                ok=bool(same and diff <= tolerance * scale))


def _check(folder: str, report: dict, model, backbone, x: torch.Tensor, routes: List[tuple],
           tol: dict) -> dict:
    """The runtime (gate graph -> route graph) against the PyTorch model in grouped evaluation mode,
    and every route graph against the DS-Net at that static route, on the images ``x``."""
    runtime = DSNetRuntime(folder, report=report)
    xs = x.detach().cpu().numpy().astype(np.float32)
    with torch.no_grad():
        # the gate graph: logits and the argmax, image by image
        pt_logits = backbone.gate_choice_logits(backbone.forward_trunk(x)[0]).cpu().numpy()
        backbone.set_dynamic()
        pt_scores = _scores(model, model(x, mode='tensor')).cpu().numpy()
        pt_choices = backbone.last_choices[:, 0].cpu().numpy()
        choices, scores = runtime(xs)
        route_checks = {}
        for route in routes:
            k = route[0]
            backbone.set_route(route)
            static = _scores(model, model(x, mode='tensor')).cpu().numpy()
            ort = np.stack([runtime.route_scores(k, xs[i:i + 1])[0] for i in range(len(xs))])
            diff = float(np.abs(static - ort).max())
            route_checks[str(k)] = dict(max_score_diff=diff, ok=bool(diff <= tol['score']))
        backbone.set_dynamic()
    checks = []
    for i, path in enumerate(report['images']):
        ort_logits = runtime.gate_logits(xs[i:i + 1])[0]
        finite = np.isfinite(pt_logits[i])
        logit_diff = float(np.abs(pt_logits[i][finite] - ort_logits[finite]).max())
        score_diff = float(np.abs(pt_scores[i] - scores[i]).max())
        same = int(choices[i]) == int(pt_choices[i])
        checks.append(dict(image=path, route_pytorch=int(pt_choices[i]), route_onnxruntime=int(choices[i]),
                           same_route=same, max_gate_logit_diff=logit_diff, max_score_diff=score_diff,
                           ok=bool(same and score_diff <= tol['score'])))
    counts = np.bincount(choices, minlength=backbone.num_choices[0])
    share = {str(k): float(counts[k]) / len(choices) for k in range(len(counts)) if str(k) in report['routes']}
    passed = all(c['ok'] for c in checks) and all(c['ok'] for c in route_checks.values())
    return dict(checks=checks, route_checks=route_checks, tolerances=tol, route_share=share, passed=passed)


def latency_dsnet(out: str, threads: Optional[int] = 1, warmup: int = 10, repeats: int = 50,
                  device: str = 'cpu') -> Dict:
    """Latency of an :func:`export_dsnet` folder, written into its ``dsnet.json`` (``latency``).

    Timed alternately (:func:`mmadapt.cost.latency.alternate_times`, batch 1, ``threads`` threads for
    ONNX Runtime and PyTorch alike): the gate graph and every route graph in ONNX Runtime; in PyTorch
    the gate (trunk + gate), the trunk alone and every static route of the DS-Net
    (``backbone.set_route``, the classifier's logits). The graphs are static, so the input is a random
    tensor of the export's input shape. Figures: :func:`mmadapt.cost.latency.spread` (median ms...)
    per graph; per route the trunk's share of its time (PyTorch trunk / route; ONNX Runtime gate graph
    / route, the gate included) and, with the check's route shares, the runtime's expected time per
    image (gate graph + the routes weighted by their share).
    """
    require_mmdeploy()
    from mmdeploy.apis.utils import build_task_processor

    from mmadapt.cost.latency import alternate_times, device_name, num_threads, spread
    from mmadapt.utils.config_values import config_field_number
    from mmadapt.utils.fileio import atomic_write_text
    if threads is not None:
        threads = config_field_number(threads, 'threads', low=1, integer=True, error=DeployError)
    out = osp.abspath(out)
    report = read_dsnet_report(out)
    checkpoint = report.get('checkpoint')
    if checkpoint and not osp.isfile(checkpoint):
        raise DeployError(f'{out}/{REPORT}: checkpoint {checkpoint} (the PyTorch model timed beside the graphs) '
                          'no longer exists')
    runtime = DSNetRuntime(out, threads, device, report=report)
    tp = build_task_processor(Config.fromfile(osp.join(out, 'model_cfg.py')),
                              Config.fromfile(osp.join(out, 'deploy_cfg.py')), device)
    model = tp.build_pytorch_model(checkpoint).eval()
    backbone = model.backbone
    shape = [1] + list(report['input_shape'])
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)
    xs = x.cpu().numpy()
    gate_feed = {runtime.gate_input: xs}

    def static(route):
        def run():
            backbone.set_route(route)
            return model(x, mode='tensor')
        return run

    fns = {'gate/onnxruntime': lambda: runtime.gate.run(None, gate_feed),
           'gate/pytorch': lambda: backbone.gate_choice_logits(backbone.forward_trunk(x)[0]),
           'trunk/pytorch': lambda: backbone.forward_trunk(x)}
    for k, r in report['routes'].items():
        session, name = runtime.routes[int(k)]
        fns[f'route_{k}/onnxruntime'] = (lambda s=session, f={name: xs}: s.run(None, f))
        fns[f'route_{k}/pytorch'] = static(tuple(r['route']))
    with num_threads(threads), torch.no_grad():
        times = alternate_times(fns, repeats, device, warmup)
    rows = {k: spread([1e3 * t for t in v]) for k, v in times.items()}
    gate = {'onnxruntime': rows['gate/onnxruntime'], 'pytorch': rows['gate/pytorch']}
    trunk = {'pytorch': rows['trunk/pytorch']}
    routes = {}
    for k in report['routes']:
        ort, pt = rows[f'route_{k}/onnxruntime'], rows[f'route_{k}/pytorch']
        routes[k] = dict(onnxruntime=ort, pytorch=pt,
                         trunk_share_pytorch=trunk['pytorch']['median_ms'] / pt['median_ms'],
                         gate_share_onnxruntime=gate['onnxruntime']['median_ms'] / ort['median_ms'])
    latency = dict(threads=threads if threads else torch.get_num_threads(), warmup=warmup, repeats=repeats,
                   device=device, device_name=device_name(device), input_shape=shape, gate=gate, trunk=trunk,
                   routes=routes, versions=versions())
    share = report.get('route_share')
    if share:
        latency['runtime_expected_ms'] = gate['onnxruntime']['median_ms'] + sum(
            s * routes[k]['onnxruntime']['median_ms'] for k, s in share.items())
    report['latency'] = latency
    atomic_write_text(osp.join(out, REPORT), json.dumps(report, indent=1, default=str) + '\n')
    return latency
