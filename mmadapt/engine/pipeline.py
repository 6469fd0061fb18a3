"""The plumbing of a staged adaptation pipeline (FNA++'s :mod:`mmadapt.engine.fna`, Network Adjustment's).

A staged pipeline runs a method as a sequence of stages (e.g. architecture adaptation, then
parameter adaptation), each an ordinary mmengine Runner run. Its files live in one work dir::

    <work_dir>/
        <stage>/               one folder per stage: the stage's Runner work dir (checkpoints, logs,
                               results.json) and what the stage produced
        <stage>/stage_done.json   written when the stage has finished: what later stages need from it
        summary.json           the method's own summary of every stage and network

- **Markers.** A finished stage writes ``<stage>/stage_done.json`` (:func:`mark_done`) whole or not
  at all (:func:`mmadapt.utils.fileio.atomic_write_text`), so a kill leaves the old marker or none.
  An empty or corrupt marker (written by an older version) counts as not done (:func:`read_done`).
  A stage about to be redone, or a stage that depends on one being redone, loses its marker first
  (:func:`clear_done`).
- **Resume.** With ``--resume`` a pipeline skips a stage that has a marker; a stage without one runs
  again and resumes from its own folder's latest checkpoint (:func:`run_stage`).
- **Paths.** Paths in a marker are stored relative to the work dir when they lie inside it
  (:func:`stored_path`) and resolved against this work dir when read (:func:`resolve_stored_path`),
  so a copied or moved work dir resumes from its own files, never the original's.
- **Errors.** A config that misuses a field raises :class:`PipelineConfigError`; a file of the work
  dir that cannot be read raises :class:`PipelineFileError`. A method raises its own subclasses
  (e.g. ``FNAConfigError``) by passing them as the ``error`` argument of the functions here.
- **Logging.** Warnings go through mmengine's ``print_log`` (the ``log`` argument replaces it).

Every function that writes does so on the main process only and then waits for the others (a
``barrier``), so a distributed run calls them on every rank.
"""
import copy
import difflib
import json
import logging
import os
import os.path as osp
import shutil
import time
from typing import Callable, Iterable, Optional, Tuple, Type

from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log

from mmadapt.utils.fileio import atomic_write_text, is_inside, read_json_object, relative_if_inside

DONE = 'stage_done.json'
SUMMARY = 'summary.json'


class PipelineConfigError(ValueError):
    """A pipeline config, option or stored path that lacks or misuses a field; the message names it."""


class PipelineFileError(ValueError):
    """A file of the pipeline's work dir that cannot be read; the message names it."""


def _log(log: Optional[Callable]) -> Callable:
    return print_log if log is None else log


def timestamp() -> str:
    """The current local time as ``YYYYmmdd_HHMMSS`` (the suffix of a stage's experiment name)."""
    return time.strftime('%Y%m%d_%H%M%S')


def stage_dir(root: str, stage: str) -> str:
    """The folder of ``stage`` in the work dir ``root``."""
    return osp.join(root, stage)


def done_path(root: str, stage: str) -> str:
    """The ``stage_done.json`` of ``stage`` in the work dir ``root``."""
    return osp.join(stage_dir(root, stage), DONE)


def read_done(root: str, stage: str, log: Optional[Callable] = None) -> Optional[dict]:
    """The ``stage_done.json`` of ``stage``, or None when it is missing or unreadable.

    An empty or truncated file (a run killed while an older version wrote it) is not an error: the
    stage counts as not done (with a warning) and reruns, resuming from its own checkpoints with
    ``--resume``.
    """
    path = done_path(root, stage)
    if not osp.isfile(path):
        return None
    try:
        return read_json_object(path)
    except (OSError, ValueError) as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        _log(log)(f'{path} is empty or corrupt ({e}); the {stage} stage counts as not done and runs again',
                  logger='current', level=logging.WARNING)
        return None


def mark_done(root: str, stage: str, info: dict) -> None:
    """Write ``info`` as the ``stage_done.json`` of ``stage``, whole or not at all (main process)."""
    if is_main_process():
        atomic_write_text(done_path(root, stage), json.dumps(info, indent=2) + '\n')
    barrier()


def clear_done(root: str, stages: Iterable[str]) -> None:
    """Remove the ``stage_done.json`` of ``stages`` (main process): they are about to be redone."""
    if is_main_process():
        for stage in stages:
            path = done_path(root, stage)
            if osp.isfile(path):
                os.remove(path)
    barrier()


def stored_path(root: str, path: Optional[str]) -> Optional[str]:
    """``path`` as stored in ``stage_done.json``: relative to the work dir ``root`` when inside it."""
    return None if path is None else relative_if_inside(path, root)


def resolve_stored_path(root: str, stage: str, key: str, value: Optional[str],
                        error: Type[Exception] = PipelineConfigError, hint: str = '',
                        log: Optional[Callable] = None) -> Optional[str]:
    """The file a path stored under ``key`` in ``<root>/<stage>/stage_done.json`` stands for, in this work dir.

    A relative path is relative to the work dir (older versions stored absolute paths, or paths
    relative to the working directory). A path that does not lead to a file of this work dir (the
    work dir was copied or moved, the original's files may have moved on) is replaced by the file at
    the same place inside this work dir (the part after the stage folder) with a warning; if there is
    none, ``error`` names ``stage_done.json`` and the missing file, and says to run the stage again,
    followed by ``hint`` (e.g. ``' or give --derived-spec'``). None stays None.
    """
    if value is None:
        return None
    done_file = done_path(root, stage)
    candidates = [value] if osp.isabs(value) else [osp.join(root, value), value]  # value: older versions
    for path in candidates:
        if osp.isfile(path) and is_inside(path, root):
            return path
    parts = osp.normpath(value).split(os.sep)
    folders = parts[:-1]
    if stage in folders:  # the part after the (last) stage folder, e.g. arch/epoch_3.pth -> epoch_3.pth
        tail = parts[len(folders) - folders[::-1].index(stage):]
    else:
        tail = parts[-1:]
    local = osp.join(stage_dir(root, stage), *tail)
    if osp.isfile(local):
        _log(log)(f'{done_file}: {key} {value} is not a file of this work dir (was the work dir copied or '
                  f'moved?); using its own {local}', logger='current', level=logging.WARNING)
        return local
    raise error(f'{done_file}: {key} {value} is not a file of this work dir and the work dir has no '
                f'{local} of its own; run the {stage} stage again (without --resume){hint}')


def run_stage(cfg: Config, work_dir: str, launcher: str, resume: bool, name: str,
              test: bool = True) -> Tuple[object, float]:
    """Prepare, train and (with ``test``) test one stage's Runner in ``work_dir``; returns (runner, seconds).

    The experiment is named ``<name>_<timestamp>``. With ``resume`` the Runner resumes from the latest
    checkpoint of ``work_dir`` itself (none: it starts afresh). The test runs only when the config has
    a ``test_dataloader`` and a ``test_cfg``.
    """
    from .launch import build_runner, prepare_config
    cfg = cfg.copy()
    cfg.experiment_name = f'{name}_{timestamp()}'
    # 'auto': prepare_config resumes from the stage folder's own latest checkpoint (latest_checkpoint)
    cfg = prepare_config(cfg, work_dir=work_dir, launcher=launcher, resume='auto' if resume else None)
    t0 = time.time()
    runner = build_runner(cfg)
    runner.train()
    if test and cfg.get('test_dataloader') is not None and cfg.get('test_cfg') is not None:
        runner.test()
    return runner, time.time() - t0


def read_run_metrics(work_dir: str, error: Type[Exception] = PipelineFileError) -> dict:
    """``dict(val=..., test=...)``: the last validation's and the test's metrics in ``<work_dir>/results.json``.

    No file, or no evaluation of a kind: ``{}`` for it. An unreadable file (a run killed while writing
    it) raises ``error`` naming it.
    """
    path = osp.join(work_dir, 'results.json')
    if not osp.isfile(path):
        return dict(val={}, test={})
    try:
        res = read_json_object(path)
    except (OSError, ValueError) as e:
        raise error(f'{path}: cannot read the results of the run ({e}); it may have been killed while '
                    'writing it: test the checkpoint again (tools/test.py) or rerun the stage') from None
    return dict(val=res['val'][-1]['metrics'] if res.get('val') else {},
                test=res['test'].get('metrics', {}) if res.get('test') else {})


def read_results(work_dir: str, error: Type[Exception] = PipelineFileError) -> dict:
    """The metrics of a stage's run from ``<work_dir>/results.json``: the test's, else the last validation's.

    No file: ``{}``. An unreadable one (a run killed while writing it) raises ``error`` naming it.
    """
    metrics = read_run_metrics(work_dir, error)
    return metrics['test'] or metrics['val']


def count_network(cfg: Config, size, latency: Optional[dict] = None) -> dict:
    """MAdds and params of the model of ``cfg`` at input ``size`` = (H, W): whole model and backbone;
    with ``latency`` (keyword arguments of :func:`mmadapt.cost.config_cost.network_latency`) also its
    PyTorch latency on this machine (``latency``: median, spread and protocol, in ms)."""
    from mmadapt.cost.config_cost import build_model_from_config, count_config, network_latency
    model = build_model_from_config(cfg)
    res = count_config(cfg, size, model=model)
    out = dict(madds=res.model.madds, params=res.model.params, backbone_madds=res.backbone_madds,
               backbone_params=res.backbone_params)
    if latency:
        out['latency'] = network_latency(None, size, model=model, **latency)
    return out


def replace_key(cfg: Config, key: str, value, field: str = 'cfg_options',
                error: Type[Exception] = PipelineConfigError) -> None:
    """Set ``cfg[key] = value`` for a dotted key (list indices allowed), replacing what was there.

    Every component but the last must exist (a misspelt key would otherwise add a field nobody
    reads, or fail with a bare KeyError); the last may be new, except as a list index. A key that
    does not fit raises ``error`` whose message starts with ``<field> '<key>'`` (``field``: where the
    key was given, e.g. ``'fna.param.cfg_options'``) and suggests close field names.
    """
    field = f'{field} {key!r}'
    parts = str(key).split('.')
    target = cfg

    def step(target, part, prefix):
        if isinstance(target, (list, tuple)):
            try:
                index = int(part)
                return index, target[index]
            except (ValueError, IndexError):
                raise error(f'{field}: {prefix!r} is a list of {len(target)} items; {part!r} is not '
                            'an index of it') from None
        if not hasattr(target, 'keys'):
            raise error(f'{field}: {prefix!r} is a {type(target).__name__}, not a dict or list')
        if part not in target.keys():
            close = difflib.get_close_matches(part, [str(k) for k in target.keys()], n=3)
            hint = f'; did you mean {" or ".join(repr(c) for c in close)}?' if close else ''
            where = f'{prefix!r}' if prefix else 'the config'
            raise error(f'{field}: {where} has no field {part!r}{hint}')
        return part, target[part]

    for i, part in enumerate(parts[:-1]):
        _, target = step(target, part, '.'.join(parts[:i]))
    last = parts[-1]
    value = ConfigDict(value) if isinstance(value, dict) else copy.deepcopy(value)
    if isinstance(target, (list, tuple)):
        index, _ = step(target, last, '.'.join(parts[:-1]))
        if isinstance(target, tuple):
            raise error(f"{field}: {'.'.join(parts[:-1])!r} is a tuple; replace it as a whole")
        target[index] = value
    elif hasattr(target, 'keys'):
        target[last] = value
    else:
        raise error(f"{field}: {'.'.join(parts[:-1])!r} is a {type(target).__name__}, not a dict or list")


def load_summary_file(root: str, log: Optional[Callable] = None) -> dict:
    """The ``summary.json`` of the work dir ``root`` as written so far; ``{}`` when there is none.

    An empty or corrupt one (not a JSON object) is kept aside as ``summary.json.corrupt`` (main
    process) with a warning, and ``{}`` returned: the run starts a fresh summary. Which entries of the
    summary still hold (a rerun stage invalidates its own) is the method's to decide.
    """
    path = osp.join(root, SUMMARY)
    if not osp.isfile(path):
        return {}
    try:
        return read_json_object(path)
    except (OSError, ValueError) as e:
        _log(log)(f'{path} is empty or corrupt ({e}); kept as {path}.corrupt, starting a fresh summary',
                  logger='current', level=logging.WARNING)
        if is_main_process():
            shutil.copyfile(path, path + '.corrupt')
        return {}


def fit_input_widths(model, spec) -> None:
    """Make the layers after the backbone read the widths of ``spec``: an FPN-like neck's
    ``in_channels`` list, else a classifier head's ``in_channels`` (after a global pool)."""
    channels = spec.stage_out_channels() + ([spec.head['out_channels']] if spec.head else [])
    out_indices = model.backbone.get('out_indices') or (len(channels) - 1, )
    widths = [channels[i] for i in out_indices]
    neck = model.get('neck')
    if isinstance(neck, dict) and isinstance(neck.get('in_channels'), (list, tuple)):
        neck.in_channels = widths
    elif isinstance(model.get('head'), dict) and 'in_channels' in model.head and \
            (neck is None or (isinstance(neck, dict) and 'in_channels' not in neck)):
        model.head.in_channels = widths[-1]


def open_pipeline_config(config, work_dir: Optional[str], cfg_options: Optional[dict], error: Type[Exception],
                         default_name: str) -> Tuple[Config, str, str]:
    """(config, experiment name, work dir root) of a method's pipeline: ``config`` (a path or a
    Config) with ``cfg_options`` merged (a misspelt key raises ``error`` naming it); the root is
    ``work_dir``, else the config's ``work_dir``, else ``./work_dirs/<config name>``."""
    from mmadapt.utils.config_values import check_option_keys
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        check_option_keys(cfg, cfg_options, error)
        cfg.merge_from_dict(cfg_options)
    name = osp.splitext(osp.basename(cfg.filename or default_name))[0]
    root = work_dir or cfg.get('work_dir') or osp.join('./work_dirs', name)
    return cfg, name, root
