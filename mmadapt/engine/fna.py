"""The FNA++ pipeline behind ``python tools/train.py <fna config>``.

An FNA config is an ordinary task config whose backbone is a super-backbone and whose ``train_cfg``
is ``mmadapt.ArchAdaptLoop`` (the search), plus an ``fna`` dict for the rest::

    fna = dict(
        seed=dict(checkpoint='seed.pth', spec='mobilenet_v2'),   # any supported seed format
        cost_input_size=(800, 1088),                               # (H, W) of the MAdds counts
        search=dict(type='diff'),        # 'diff' (FNA++), 'random_sample', 'random_search'
        arch=dict(init='remap'),         # super-net from the seed ('remap') or 'random'
        param=dict(init='super',         # target from the super-net ('super'), the 'seed', or 'random'
                   train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=12),
                   optim_wrapper=None, param_scheduler=None,   # default: the config's own
                   bn_recalib=None,                            # e.g. dict(iters=200, freeze=True)
                   cfg_options=None),  # replaced entries, e.g. {'train_dataloader.batch_size': 4}
        seed_baseline=False,             # also train the seed network with the param schedule
        latency=dict(threads=1, warmup=5, repeats=20),  # PyTorch latency of each network in the
                                         # summary (batch 1 at cost_input_size, this machine); None: off
    )

Stages, each in its own folder of the work dir and each resumable (``--resume``):

1. ``arch``: architecture adaptation (``arch/``): the derived spec ``arch/derived_final.yaml``, its
   picture, the search curves, checkpoints with the super-net;
2. ``param``: parameter adaptation (``param/``): the derived network, initialised by remapping
   (``param/init.pth``), trained with the ``param.train_cfg`` schedule, then tested;
3. ``seed`` (with ``seed_baseline``): the seed network trained with the same schedule (``seed/``);

and ``summary.json`` / ``summary.md``: MAdds, params, latency, metric and time of every network and
stage. The latency is PyTorch's, measured on the machine that ran the stage: the network (``mode=
'tensor'``, no post-processing, what the MAdds count) at ``cost_input_size``, batch 1, median of
``fna.latency.repeats`` calls after ``warmup``; ONNX Runtime figures come from
``tools/analysis/benchmark_latency.py`` on the stage's config and checkpoint.

Each finished stage writes ``<stage>/stage_done.json``; ``--resume`` skips a stage that has one and
resumes an unfinished one from its own checkpoints. Paths in it are stored relative to the work dir, so
a copied or moved work dir resumes from its own files. A run of every stage without ``--resume`` starts
a fresh summary; ``--stage X`` without ``--resume`` keeps the other stages' rows but drops what stage X
(and what depends on it) produced. Every small file is written whole or not at all
(:func:`mmadapt.utils.fileio.atomic_write_text`).

This module holds what is FNA's own: the ``fna`` settings, the stages and what depends on what, the
configs of the stages' runs, the random baselines and the summary's table. The staged-pipeline plumbing
(stage folders, ``stage_done.json`` markers, stored paths, running a stage's Runner, reading its
results, replacing config entries, reading ``summary.json``) is in :mod:`mmadapt.engine.pipeline`,
shared with the other methods' pipelines; :class:`FNAConfigError` and :class:`FNAFileError` are its
:class:`~mmadapt.engine.pipeline.PipelineConfigError` and :class:`~mmadapt.engine.pipeline.PipelineFileError`.
"""
import copy
import json
import os
import os.path as osp
import random
import time
from typing import List, Optional

from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, get_dist_info, is_main_process
from mmengine.logging import print_log

from mmadapt.arch import dump_spec, load_spec, path_spec
from mmadapt.utils.checkpoint import latest_checkpoint
from mmadapt.utils.config_values import config_bool, config_field_number, config_section
from mmadapt.utils.fileio import atomic_write_text
from .pipeline import (PipelineConfigError, PipelineFileError, clear_done, count_network, load_summary_file,
                       open_pipeline_config,
                       mark_done, read_done, read_results, replace_key, resolve_stored_path, run_stage, stage_dir,
                       stored_path)

SEARCH_TYPES = ('diff', 'random_sample', 'random_search')
LATENCY_DEFAULTS = dict(threads=1, warmup=5, repeats=20, batch=1)
PARAM_INITS = ('super', 'seed', 'random')
ARCH_INITS = ('remap', 'random')
STAGES = ('all', 'arch', 'param', 'seed')
# what a rerun of a stage (without --resume) invalidates: its own outputs and those of the stages
# built on it (the seed baseline does not depend on the architecture)
_STAGE_SUMMARY_KEYS = dict(arch=(('times', 'arch'), ('times', 'param'), ('networks', 'adapted'), ('derived_spec', )),
                           param=(('times', 'param'), ('networks', 'adapted')),
                           seed=(('times', 'seed'), ('networks', 'seed')))
_DEPENDENT_STAGES = dict(arch=('param', ), param=(), seed=())


class FNAConfigError(PipelineConfigError):
    """An FNA config that lacks or misuses a field; the message names it."""


class FNAFileError(PipelineFileError):
    """A file of the pipeline's work dir that cannot be read; the message names it."""


def fna_settings(cfg: Config) -> dict:
    """The ``fna`` dict of a config with defaults filled in and every field checked."""
    if 'fna' not in cfg:
        raise FNAConfigError('not an FNA config: it has no `fna` dict')
    fna = copy.deepcopy(cfg.fna.to_dict() if isinstance(cfg.fna, ConfigDict) else dict(cfg.fna))
    allowed = {'seed', 'cost_input_size', 'search', 'arch', 'param', 'seed_baseline', 'latency'}
    unknown = sorted(set(fna) - allowed)
    if unknown:
        raise FNAConfigError(f'fna: unknown field(s) {unknown}; allowed: {sorted(allowed)}')
    backbone = cfg.model.get('backbone', {})
    if backbone.get('type') not in ('mmadapt.SuperMobileNetV2', 'mmadapt.SuperResNet'):
        raise FNAConfigError('fna: model.backbone must be mmadapt.SuperMobileNetV2 or mmadapt.SuperResNet, got '
                             f"{backbone.get('type')!r}")
    seed = dict(fna.get('seed') or {})
    if 'spec' not in seed:
        raise FNAConfigError("fna.seed: missing field 'spec' (the seed's architecture, e.g. 'mobilenet_v2')")
    seed.setdefault('checkpoint', None)
    seed.setdefault('format', 'auto')
    fna['seed'] = seed
    size = fna.get('cost_input_size') or backbone.get('input_size')
    if not size or len(size) != 2:
        raise FNAConfigError('fna: missing field cost_input_size=(H, W) (or model.backbone.input_size)')
    fna['cost_input_size'] = (int(size[0]), int(size[1]))
    search = dict(fna.get('search') or {})
    search.setdefault('type', 'diff')
    if search['type'] not in SEARCH_TYPES:
        raise FNAConfigError(f"fna.search.type {search['type']!r} not allowed; allowed: {list(SEARCH_TYPES)}")
    search.setdefault('tolerance', 0.05)
    search.setdefault('target_madds', None)
    search.setdefault('num_archs', 4)
    search.setdefault('seed', 0)
    fna['search'] = search
    arch = dict(fna.get('arch') or {})
    arch.setdefault('init', 'remap')
    if arch['init'] not in ARCH_INITS:
        raise FNAConfigError(f"fna.arch.init {arch['init']!r} not allowed; allowed: {list(ARCH_INITS)}")
    fna['arch'] = arch
    param = dict(fna.get('param') or {})
    if 'train_cfg' not in param:
        raise FNAConfigError("fna.param: missing field 'train_cfg' (the parameter adaptation schedule, e.g. "
                             "dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=12))")
    param.setdefault('init', 'super')
    if param['init'] not in PARAM_INITS:
        raise FNAConfigError(f"fna.param.init {param['init']!r} not allowed; allowed: {list(PARAM_INITS)}")
    if search['type'] != 'diff' and param['init'] == 'super':
        param['init'] = 'seed'  # no super-net is trained: the seed is the source (Table 16 rows 3, 7)
    for key in ('optim_wrapper', 'param_scheduler', 'bn_recalib', 'cfg_options'):
        param.setdefault(key, None)
    fna['param'] = param
    fna['seed_baseline'] = config_bool(fna.get('seed_baseline', False), 'fna.seed_baseline', FNAConfigError)
    latency = fna.get('latency', dict(LATENCY_DEFAULTS))
    if latency:
        latency = config_section(dict(fna), 'latency', LATENCY_DEFAULTS, 'fna.latency', FNAConfigError)
        for key in ('warmup', 'repeats', 'threads', 'batch'):
            config_field_number(latency[key], f'fna.latency.{key}', low=0 if key == 'warmup' else 1,
                                integer=True, error=FNAConfigError)
    fna['latency'] = latency or None
    if (arch['init'] == 'remap' or param['init'] == 'seed' or fna['seed_baseline']) and not seed['checkpoint']:
        needs = [n for n, c in (("fna.arch.init='remap'", arch['init'] == 'remap'),
                                ("fna.param.init='seed'", param['init'] == 'seed'),
                                ('fna.seed_baseline', fna['seed_baseline'])) if c]
        raise FNAConfigError(f"fna.seed: missing field 'checkpoint', needed by {', '.join(needs)}")
    return fna


# The pipeline plumbing as FNA uses it (mmadapt/engine/pipeline.py): FNA's error classes and hints,
# warnings through this module's ``print_log``. run_pipeline starts every stage's Runner through ``_run``,
# so that it can be replaced (the tests stop the pipeline there, before any training).
_run = run_stage
_mark_done = mark_done
_stored_path = stored_path


def _done(root: str, stage: str) -> Optional[dict]:
    """:func:`read_done`, warning through this module's ``print_log``."""
    return read_done(root, stage, log=print_log)


def _resolve_stored_path(root: str, stage: str, key: str, value: Optional[str]) -> Optional[str]:
    """:func:`resolve_stored_path` raising :class:`FNAConfigError` (FNA's stages can take ``--derived-spec``)."""
    return resolve_stored_path(root, stage, key, value, error=FNAConfigError, hint=' or give --derived-spec',
                               log=print_log)


def _results(work_dir: str) -> dict:
    """:func:`read_results` raising :class:`FNAFileError`."""
    return read_results(work_dir, error=FNAFileError)


def _replace(cfg: Config, key: str, value) -> None:
    """:func:`replace_key` for an entry of ``fna.param.cfg_options``, raising :class:`FNAConfigError`."""
    replace_key(cfg, key, value, field='fna.param.cfg_options', error=FNAConfigError)


def _derived_backbone(super_cfg: dict, spec) -> dict:
    bb = copy.deepcopy(dict(super_cfg))
    family = load_spec(spec).family
    bb['type'] = 'mmadapt.DerivedMobileNetV2' if family == 'mbv2' else 'mmadapt.DerivedResNet'
    bb['spec'] = load_spec(spec).to_dict()
    for key in ('input_size', 'init_cfg'):
        bb.pop(key, None)
    return bb


def _param_config(cfg: Config, fna: dict, spec, init: str, super_ckpt: Optional[str], work_dir: str,
                  train_cfg: Optional[dict] = None) -> Config:
    """The config of a parameter adaptation (or seed baseline) run of the network ``spec``."""
    from mmadapt.models.checkpoint import remap_checkpoint
    pcfg = cfg.copy()
    param = fna['param']
    backbone = _derived_backbone(cfg.model.backbone, spec)
    out_indices = backbone.get('out_indices')
    pcfg.load_from = None
    if init == 'super':
        if super_ckpt is None:
            raise FNAConfigError("fna.param.init='super' needs the architecture adaptation's checkpoint")
        init_path = osp.join(work_dir, 'init.pth')
        if is_main_process():
            result = remap_checkpoint(super_ckpt, cfg.model.backbone.spec, spec, source='super',
                                      out_indices=out_indices)
            result.save(init_path)
            print_log(f'parameter adaptation initialised from the super-net {super_ckpt}:\n'
                      f'{result.report.summary()}', logger='current')
        barrier()
        pcfg.load_from = init_path
    elif init == 'seed':
        backbone['init_cfg'] = dict(type='mmadapt.Remap', checkpoint=fna['seed']['checkpoint'], source='seed',
                                    source_spec=fna['seed']['spec'], format=fna['seed']['format'])
    pcfg.model.backbone = ConfigDict(backbone)
    pcfg.train_cfg = ConfigDict(train_cfg or param['train_cfg'])
    if param['optim_wrapper'] is not None:
        pcfg.optim_wrapper = ConfigDict(param['optim_wrapper'])
    if param['param_scheduler'] is not None:
        pcfg.param_scheduler = param['param_scheduler']
    hooks = [h for h in (pcfg.get('custom_hooks') or []) if 'ArchAdapt' not in str(h.get('type', ''))]
    if param['bn_recalib']:
        hooks.append(dict(type='mmadapt.BNRecalibrationHook', **param['bn_recalib']))
    pcfg.custom_hooks = hooks
    pcfg.pop('fna', None)
    pcfg.pop('find_unused_parameters', None)
    for key, value in (param['cfg_options'] or {}).items():
        _replace(pcfg, key, value)
    return pcfg


def _random_paths(super_spec, fna: dict, size, n: int) -> List[List[int]]:
    """``n`` distinct paths drawn uniformly whose backbone MAdds are within the tolerance of the target."""
    from mmadapt.cost import spec_cost
    cost = spec_cost(super_spec, size)
    target = fna['search']['target_madds']
    if target is None:  # the seed's MAdds (whole networks on both sides)
        target = spec_cost(fna['seed']['spec'], size).madds
    tol = fna['search']['tolerance']
    rng = random.Random(fna['search']['seed'])
    table = cost.table()
    found, seen = [], set()
    for _ in range(200000):
        path = [rng.randrange(len(lc.madds)) for lc in table]
        key = tuple(path)
        if key in seen:
            continue
        seen.add(key)
        if abs(cost.path_madds(path) - target) <= tol * target:
            found.append(path)
            if len(found) == n:
                return found
    raise RuntimeError(f'found only {len(found)} of {n} random paths within {tol:.0%} of {target / 1e6:.1f}M MAdds; '
                       'raise fna.search.tolerance or set fna.search.target_madds')


def _load_summary(root: str, stage: str, resume: bool, seed_baseline: bool = True) -> dict:
    """The summary this run starts from.

    - every stage without ``--resume``: a fresh summary (the old run's rows are not this run's);
    - ``--stage X`` without ``--resume``: the other stages' entries, without what stage X produces and
      what depends on it (a new architecture invalidates the adapted network and its time);
    - ``--resume``: everything written so far (skipped stages keep their rows);
    - every stage with ``seed_baseline`` off: no seed row.

    A corrupt ``summary.json`` is kept aside as ``summary.json.corrupt`` and a fresh summary started
    (:func:`load_summary_file`).
    """
    summary = load_summary_file(root, log=print_log) if stage != 'all' or resume else {}
    for key in ('times', 'networks'):
        if not isinstance(summary.get(key), dict):
            summary[key] = {}
    drop = list(_STAGE_SUMMARY_KEYS[stage]) if stage != 'all' and not resume else []
    if stage == 'all' and not seed_baseline:
        drop += _STAGE_SUMMARY_KEYS['seed']
    for keys in drop:
        parent = summary
        for k in keys[:-1]:
            parent = parent.get(k, {})
        parent.pop(keys[-1], None)
    return summary


def run_pipeline(config, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                 launcher: str = 'none', stage: str = 'all', derived_spec: Optional[str] = None,
                 resume: bool = False) -> dict:
    """Run the FNA++ pipeline of ``config`` (see the module docstring); returns the summary."""
    if stage not in STAGES:
        raise FNAConfigError(f'stage must be one of {list(STAGES)}, got {stage!r}')
    cfg, name, root = open_pipeline_config(config, work_dir, cfg_options, FNAConfigError, 'fna')
    fna = fna_settings(cfg)
    size = fna['cost_input_size']
    super_spec = load_spec(cfg.model.backbone.spec)
    summary = _load_summary(root, stage, resume, fna['seed_baseline'])
    summary.update(config=cfg.filename, search=fna['search']['type'], arch_init=fna['arch']['init'],
                   param_init=fna['param']['init'], cost_input_size=list(size))
    if stage == 'all' and not resume:  # a fresh run: no stage of an older run counts as done
        clear_done(root, ('arch', 'param', 'seed'))

    # -- stage 1: architecture adaptation (or a random architecture) -------------------------------
    arch_dir = stage_dir(root, 'arch')
    super_ckpt, super_ckpt_error = None, None
    if derived_spec is not None:
        spec_path = derived_spec  # the user's file, used as given
        load_spec(spec_path)  # fail early on a bad spec
        # a finished search in this work dir lends its super-net: param.init='super' then collects the
        # given architecture's parameters from it (e.g. the seed's architecture, as a control)
        done = _done(root, 'arch')
        if done and done.get('super_checkpoint'):
            try:
                super_ckpt = _resolve_stored_path(root, 'arch', 'super_checkpoint', done['super_checkpoint'])
            except FNAConfigError as e:
                super_ckpt_error = e
    elif stage in ('all', 'arch') and not (resume and _done(root, 'arch')):
        # a new architecture: the parameter adaptation of the old one is no longer done
        clear_done(root, ('arch', ) if resume else ('arch', ) + _DEPENDENT_STAGES['arch'])
        if fna['search']['type'] == 'diff':
            acfg = cfg.copy()
            acfg.pop('fna', None)
            if fna['arch']['init'] == 'remap':
                acfg.model.backbone.init_cfg = dict(type='mmadapt.Remap', checkpoint=fna['seed']['checkpoint'],
                                                    source='seed', source_spec=fna['seed']['spec'],
                                                    format=fna['seed']['format'])
            else:
                acfg.model.backbone.init_cfg = None
            if acfg.train_cfg.get('cost_target') == 'seed':  # a budget of the seed's own MAdds in the space
                acfg.train_cfg.cost_target = load_spec(fna['seed']['spec']).to_dict()
            runner, seconds = _run(acfg, arch_dir, launcher, resume, f'{name}_arch', test=False)
            spec_path = osp.join(arch_dir, 'derived_final.yaml')
            super_ckpt = latest_checkpoint(arch_dir)
        else:
            t0 = time.time()
            spec_path, super_ckpt = _random_architecture(cfg, fna, super_spec, size, root, launcher, resume, name)
            seconds = time.time() - t0
        mark_done(root, 'arch', dict(derived_spec=stored_path(root, spec_path),
                                     super_checkpoint=stored_path(root, super_ckpt), seconds=seconds))
        summary['times']['arch'] = seconds
    elif stage == 'seed':
        spec_path = None  # the seed baseline needs no architecture adaptation
    else:
        done = _done(root, 'arch')
        if done is None or not done.get('derived_spec'):
            raise FNAConfigError(f'stage {stage!r} needs a finished architecture adaptation in {arch_dir} (run '
                                 "--stage arch first) or a derived spec (--derived-spec FILE)")
        spec_path = _resolve_stored_path(root, 'arch', 'derived_spec', done['derived_spec'])
        try:  # needed only by a parameter adaptation from the super-net
            super_ckpt = _resolve_stored_path(root, 'arch', 'super_checkpoint', done.get('super_checkpoint'))
        except FNAConfigError as e:
            super_ckpt_error = e
    if stage == 'arch':
        return _write_summary(root, summary)
    if spec_path is not None:
        derived = load_spec(spec_path)
        summary['derived_spec'] = derived.describe()

    # -- stage 2: parameter adaptation ------------------------------------------------------------------
    param_dir = stage_dir(root, 'param')
    if stage in ('all', 'param') and not (resume and _done(root, 'param')):
        clear_done(root, ('param', ))
        init = fna['param']['init']
        if init == 'super' and super_ckpt_error is not None:
            raise super_ckpt_error
        if init == 'super' and super_ckpt is None:
            init = 'seed' if fna['seed']['checkpoint'] else 'random'
            print_log(f"no super-net checkpoint (derived spec given by hand): parameter adaptation starts from "
                      f"the {init}", logger='current')
        pcfg = _param_config(cfg, fna, derived, init, super_ckpt, param_dir)
        _, seconds = _run(pcfg, param_dir, launcher, resume, f'{name}_param')
        mark_done(root, 'param', dict(seconds=seconds, init=init))
        summary['times']['param'] = seconds
        summary['networks']['adapted'] = dict(spec=derived.describe(), init=init,
                                              **count_network(pcfg, size, fna['latency']),
                                              metrics=_results(param_dir))

    # -- stage 3: the seed network with the same schedule -------------------------------------------
    if fna['seed_baseline'] and stage in ('all', 'seed') and not (resume and _done(root, 'seed')):
        clear_done(root, ('seed', ))
        seed_dir = stage_dir(root, 'seed')
        scfg = _param_config(cfg, fna, fna['seed']['spec'], 'seed', None, seed_dir)
        _, seconds = _run(scfg, seed_dir, launcher, resume, f'{name}_seed')
        mark_done(root, 'seed', dict(seconds=seconds))
        summary['times']['seed'] = seconds
        summary['networks']['seed'] = dict(spec=load_spec(fna['seed']['spec']).describe(), init='seed',
                                           **count_network(scfg, size, fna['latency']), metrics=_results(seed_dir))
    return _write_summary(root, summary)


def _random_architecture(cfg, fna, super_spec, size, root, launcher, resume, name):
    """Random sampling (one path of similar MAdds) or random search (several, trained briefly)."""
    from mmadapt.cost import spec_cost
    search = fna['search']
    arch_dir = stage_dir(root, 'arch')
    os.makedirs(arch_dir, exist_ok=True)
    n = 1 if search['type'] == 'random_sample' else int(search['num_archs'])
    paths = _random_paths(super_spec, fna, size, n)
    cost = spec_cost(super_spec, size)
    candidates = []
    for i, path in enumerate(paths):
        spec = path_spec(super_spec, path, name=f'{super_spec.name}_random{i}')
        candidates.append(dict(spec=spec, madds=cost.path_madds(path)))
    if search['type'] == 'random_search':
        brief = search.get('train_cfg') or dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)
        key = search.get('metric')
        for i, cand in enumerate(candidates):
            cdir = osp.join(arch_dir, f'candidate_{i}')
            pcfg = _param_config(cfg, fna, cand['spec'], 'seed', None, cdir, train_cfg=brief)
            _run(pcfg, cdir, launcher, resume, f'{name}_candidate{i}')
            metrics = _results(cdir)
            key = key or (sorted(metrics)[0] if metrics else None)
            cand['metric'] = metrics.get(key) if key else None
            cand['metrics'] = metrics
        scored = [c for c in candidates if isinstance(c.get('metric'), (int, float))]
        if not scored:
            raise RuntimeError('random search: no candidate produced a metric')
        best = max(scored, key=lambda c: c['metric'])
    else:
        best = candidates[0]
    spec_path = osp.join(arch_dir, 'derived_final.yaml')
    if is_main_process():
        dump_spec(best['spec'], spec_path)
        atomic_write_text(osp.join(arch_dir, 'random_candidates.json'),
                          json.dumps([dict(spec=c['spec'].describe(), madds=c['madds'], metric=c.get('metric'),
                                           metrics=c.get('metrics')) for c in candidates], indent=2) + '\n')
    barrier()
    print_log(f"{search['type']}: chose {best['spec'].describe()} ({best['madds'] / 1e6:.1f}M backbone MAdds)",
              logger='current')
    return spec_path, None


def _fmt_metric(metrics: dict) -> str:
    if not metrics:
        return '-'
    return ', '.join(f'{k.split("/")[-1]} {v:.3f}' if isinstance(v, float) else f'{k}: {v}'
                     for k, v in list(metrics.items())[:3])


def _write_summary(root: str, summary: dict) -> dict:
    from mmadapt.cost import format_count
    rank, _ = get_dist_info()
    if rank == 0:
        os.makedirs(root, exist_ok=True)
        atomic_write_text(osp.join(root, 'summary.json'), json.dumps(summary, indent=2) + '\n')
        lines = ['| network | MAdds | params | backbone MAdds | latency (ms) | metric |',
                 '| --- | --- | --- | --- | --- | --- |']
        for key in ('seed', 'adapted'):
            net = summary['networks'].get(key)
            if net:
                lat = net.get('latency')
                lat = f"{lat['median_ms']:.2f} ({lat['p10_ms']:.2f}-{lat['p90_ms']:.2f})" if lat else '-'
                lines.append(f"| {key} ({net['init']} init) | {format_count(net['madds'])} | "
                             f"{format_count(net['params'])} | {format_count(net['backbone_madds'])} | {lat} | "
                             f"{_fmt_metric(net['metrics'])} |")
        times = ', '.join(f'{k} {v:.0f} s' for k, v in summary['times'].items())
        text = '\n'.join(lines) + f"\n\nMAdds at {summary['cost_input_size'][0]}x{summary['cost_input_size'][1]}; " \
            f"search: {summary['search']}; stage times: {times or '-'}\n"
        lat = next((n['latency'] for n in summary['networks'].values() if n and n.get('latency')), None)
        if lat:
            text += (f"\nlatency: PyTorch, the network without post-processing at the same size, batch {lat['batch']}, "
                     f"{lat['threads']} thread(s), median (p10-p90) of {lat['repeats']} calls on {lat['device_name']}\n")
        if summary.get('derived_spec'):
            text += f"\nderived: {summary['derived_spec']}\n"
        atomic_write_text(osp.join(root, 'summary.md'), text)
        print_log(f'FNA++ summary ({root}/summary.md):\n{text}', logger='current')
    return summary
