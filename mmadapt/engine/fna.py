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
    )

Stages, each in its own folder of the work dir and each resumable (``--resume``):

1. ``arch``: architecture adaptation (``arch/``): the derived spec ``arch/derived_final.yaml``, its
   picture, the search curves, checkpoints with the super-net;
2. ``param``: parameter adaptation (``param/``): the derived network, initialised by remapping
   (``param/init.pth``), trained with the ``param.train_cfg`` schedule, then tested;
3. ``seed`` (with ``seed_baseline``): the seed network trained with the same schedule (``seed/``);

and ``summary.json`` / ``summary.md``: MAdds, params, metric and time of every network and stage.
"""
import copy
import json
import os
import os.path as osp
import random
import time
from typing import Dict, List, Optional

from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, get_dist_info, is_main_process
from mmengine.logging import print_log

from mmadapt.arch import dump_spec, load_spec, path_spec
from mmadapt.utils.config_values import config_bool

SEARCH_TYPES = ('diff', 'random_sample', 'random_search')
PARAM_INITS = ('super', 'seed', 'random')
ARCH_INITS = ('remap', 'random')
STAGES = ('all', 'arch', 'param', 'seed')
DONE = 'stage_done.json'


class FNAConfigError(ValueError):
    """An FNA config that lacks or misuses a field; the message names it."""


def fna_settings(cfg: Config) -> dict:
    """The ``fna`` dict of a config with defaults filled in and every field checked."""
    if 'fna' not in cfg:
        raise FNAConfigError('not an FNA config: it has no `fna` dict')
    fna = copy.deepcopy(cfg.fna.to_dict() if isinstance(cfg.fna, ConfigDict) else dict(cfg.fna))
    allowed = {'seed', 'cost_input_size', 'search', 'arch', 'param', 'seed_baseline'}
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
    if (arch['init'] == 'remap' or param['init'] == 'seed' or fna['seed_baseline']) and not seed['checkpoint']:
        needs = [n for n, c in (("fna.arch.init='remap'", arch['init'] == 'remap'),
                                ("fna.param.init='seed'", param['init'] == 'seed'),
                                ('fna.seed_baseline', fna['seed_baseline'])) if c]
        raise FNAConfigError(f"fna.seed: missing field 'checkpoint', needed by {', '.join(needs)}")
    return fna


def _now() -> str:
    return time.strftime('%Y%m%d_%H%M%S')


def _stage_dir(root: str, stage: str) -> str:
    return osp.join(root, stage)


def _done(root: str, stage: str) -> Optional[dict]:
    path = osp.join(_stage_dir(root, stage), DONE)
    if osp.isfile(path):
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    return None


def _mark_done(root: str, stage: str, info: dict) -> None:
    if is_main_process():
        path = osp.join(_stage_dir(root, stage), DONE)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(info, f, indent=2)
    barrier()


def _has_checkpoint(work_dir: str) -> bool:
    return osp.isfile(osp.join(work_dir, 'last_checkpoint'))


def _last_checkpoint(work_dir: str) -> str:
    with open(osp.join(work_dir, 'last_checkpoint'), encoding='utf-8') as f:
        return f.read().strip()


def _run(cfg: Config, work_dir: str, launcher: str, resume: bool, name: str, test: bool = True):
    """Prepare, train and (with ``test``) test one stage's Runner; returns (runner, seconds)."""
    from .launch import build_runner, prepare_config
    cfg = cfg.copy()
    cfg.experiment_name = f'{name}_{_now()}'
    resume_arg = 'auto' if (resume and _has_checkpoint(work_dir)) else None
    cfg = prepare_config(cfg, work_dir=work_dir, launcher=launcher, resume=resume_arg)
    t0 = time.time()
    runner = build_runner(cfg)
    runner.train()
    if test and cfg.get('test_dataloader') is not None and cfg.get('test_cfg') is not None:
        runner.test()
    return runner, time.time() - t0


def _results(work_dir: str) -> dict:
    path = osp.join(work_dir, 'results.json')
    if not osp.isfile(path):
        return {}
    with open(path, encoding='utf-8') as f:
        res = json.load(f)
    if res.get('test'):
        return res['test'].get('metrics', {})
    return res['val'][-1]['metrics'] if res.get('val') else {}


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


def _replace(cfg: Config, key: str, value) -> None:
    """Set ``cfg[key] = value`` for a dotted key (list indices allowed), replacing what was there."""
    parts = key.split('.')
    target = cfg
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    value = ConfigDict(value) if isinstance(value, dict) else copy.deepcopy(value)
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


def _count(cfg: Config, size) -> dict:
    from mmadapt.cost.config_cost import count_config
    res = count_config(cfg, size)
    return dict(madds=res.model.madds, params=res.model.params, backbone_madds=res.backbone_madds,
                backbone_params=res.backbone_params)


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


def run_pipeline(config, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                 launcher: str = 'none', stage: str = 'all', derived_spec: Optional[str] = None,
                 resume: bool = False) -> dict:
    """Run the FNA++ pipeline of ``config`` (see the module docstring); returns the summary."""
    if stage not in STAGES:
        raise FNAConfigError(f'stage must be one of {list(STAGES)}, got {stage!r}')
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    fna = fna_settings(cfg)
    name = osp.splitext(osp.basename(cfg.filename or 'fna'))[0]
    root = work_dir or cfg.get('work_dir') or osp.join('./work_dirs', name)
    size = fna['cost_input_size']
    super_spec = load_spec(cfg.model.backbone.spec)
    summary_path = osp.join(root, 'summary.json')
    summary = {}
    if osp.isfile(summary_path):
        with open(summary_path, encoding='utf-8') as f:
            summary = json.load(f)
    summary.update(config=cfg.filename, search=fna['search']['type'], arch_init=fna['arch']['init'],
                   param_init=fna['param']['init'], cost_input_size=list(size))
    summary.setdefault('times', {})
    summary.setdefault('networks', {})

    # -- stage 1: architecture adaptation (or a random architecture) -------------------------------
    arch_dir = _stage_dir(root, 'arch')
    super_ckpt = None
    if derived_spec is not None:
        spec_path = derived_spec
        load_spec(spec_path)  # fail early on a bad spec
    elif stage in ('all', 'arch') and not (resume and _done(root, 'arch')):
        if fna['search']['type'] == 'diff':
            acfg = cfg.copy()
            acfg.pop('fna', None)
            if fna['arch']['init'] == 'remap':
                acfg.model.backbone.init_cfg = dict(type='mmadapt.Remap', checkpoint=fna['seed']['checkpoint'],
                                                    source='seed', source_spec=fna['seed']['spec'],
                                                    format=fna['seed']['format'])
            else:
                acfg.model.backbone.init_cfg = None
            runner, seconds = _run(acfg, arch_dir, launcher, resume, f'{name}_arch', test=False)
            spec_path = osp.join(arch_dir, 'derived_final.yaml')
            super_ckpt = _last_checkpoint(arch_dir)
        else:
            t0 = time.time()
            spec_path, super_ckpt = _random_architecture(cfg, fna, super_spec, size, root, launcher, resume, name)
            seconds = time.time() - t0
        _mark_done(root, 'arch', dict(derived_spec=spec_path, super_checkpoint=super_ckpt, seconds=seconds))
        summary['times']['arch'] = seconds
    else:
        done = _done(root, 'arch')
        if done is None:
            raise FNAConfigError(f'stage {stage!r} needs a finished architecture adaptation in {arch_dir} (run '
                                 "--stage arch first) or a derived spec (--derived-spec FILE)")
        spec_path, super_ckpt = done['derived_spec'], done.get('super_checkpoint')
    if stage == 'arch':
        return _write_summary(root, summary)
    derived = load_spec(spec_path)
    summary['derived_spec'] = derived.describe()

    # -- stage 2: parameter adaptation ------------------------------------------------------------------
    param_dir = _stage_dir(root, 'param')
    if stage in ('all', 'param') and not (resume and _done(root, 'param')):
        init = fna['param']['init']
        if init == 'super' and super_ckpt is None:
            init = 'seed' if fna['seed']['checkpoint'] else 'random'
            print_log(f"no super-net checkpoint (derived spec given by hand): parameter adaptation starts from "
                      f"the {init}", logger='current')
        pcfg = _param_config(cfg, fna, derived, init, super_ckpt, param_dir)
        _, seconds = _run(pcfg, param_dir, launcher, resume, f'{name}_param')
        _mark_done(root, 'param', dict(seconds=seconds, init=init))
        summary['times']['param'] = seconds
        summary['networks']['adapted'] = dict(spec=derived.describe(), init=init, **_count(pcfg, size),
                                              metrics=_results(param_dir))

    # -- stage 3: the seed network with the same schedule -------------------------------------------
    if fna['seed_baseline'] and stage in ('all', 'seed') and not (resume and _done(root, 'seed')):
        seed_dir = _stage_dir(root, 'seed')
        scfg = _param_config(cfg, fna, fna['seed']['spec'], 'seed', None, seed_dir)
        _, seconds = _run(scfg, seed_dir, launcher, resume, f'{name}_seed')
        _mark_done(root, 'seed', dict(seconds=seconds))
        summary['times']['seed'] = seconds
        summary['networks']['seed'] = dict(spec=load_spec(fna['seed']['spec']).describe(), init='seed',
                                           **_count(scfg, size), metrics=_results(seed_dir))
    return _write_summary(root, summary)


def _random_architecture(cfg, fna, super_spec, size, root, launcher, resume, name):
    """Random sampling (one path of similar MAdds) or random search (several, trained briefly)."""
    from mmadapt.cost import spec_cost
    search = fna['search']
    arch_dir = _stage_dir(root, 'arch')
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
        with open(osp.join(arch_dir, 'random_candidates.json'), 'w', encoding='utf-8') as f:
            json.dump([dict(spec=c['spec'].describe(), madds=c['madds'], metric=c.get('metric'),
                            metrics=c.get('metrics')) for c in candidates], f, indent=2)
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
        with open(osp.join(root, 'summary.json'), 'w', encoding='utf-8') as f:
            json.dump(summary, f, indent=2)
        lines = ['| network | MAdds | params | backbone MAdds | metric |', '| --- | --- | --- | --- | --- |']
        for key in ('seed', 'adapted'):
            net = summary['networks'].get(key)
            if net:
                lines.append(f"| {key} ({net['init']} init) | {format_count(net['madds'])} | "
                             f"{format_count(net['params'])} | {format_count(net['backbone_madds'])} | "
                             f"{_fmt_metric(net['metrics'])} |")
        times = ', '.join(f'{k} {v:.0f} s' for k, v in summary['times'].items())
        text = '\n'.join(lines) + f"\n\nMAdds at {summary['cost_input_size'][0]}x{summary['cost_input_size'][1]}; " \
            f"search: {summary['search']}; stage times: {times or '-'}\n"
        if summary.get('derived_spec'):
            text += f"\nderived: {summary['derived_spec']}\n"
        with open(osp.join(root, 'summary.md'), 'w', encoding='utf-8') as f:
            f.write(text)
        print_log(f'FNA++ summary ({root}/summary.md):\n{text}', logger='current')
    return summary
