"""NetAdaptV2 behind ``python tools/train.py <config with netadaptv2>``: super-network training with
ordered dropout and channel-level bypass, MCD to a budget, the found network trained and tested.

A NetAdaptV2 config is an ordinary task config (mmpretrain, mmdet, mmseg, ...) whose backbone is a
derived spec backbone (the initial network), plus a ``netadaptv2`` dict (:mod:`.settings`). The work
dir::

    holdout.json             the seeded held-out split of the training set
    initial/                 (netadaptv2.seed.checkpoint='train') the initial network trained with the
                             config's recipe on the training split: the super-network starts from it
    supernet/                the elastic network of the initial spec (bypass limits added, App. B),
                             trained with ordered dropout on the training set minus the held-out split
    latency_table.json       (latency cost) the lazily measured table, calibrated on whole networks
    search/                  MCD (mmadapt.MCDSearchLoop): mcd_state.json, trajectory.json,
                             found_spec.yaml, trajectory.png
    final/                   the found network trained with the config's recipe and tested
                             (final/transfer_<k>/: the trajectory steps of App. A.2)
    seed/                    the initial network trained the same way (compare=('seed', ))
    summary.json, summary.md seed vs found: score, MAdds, params, predicted and measured latency

``--resume`` skips finished stages and resumes a stage from its own checkpoints (the search from its
state file, exactly).
"""
import copy
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log

from mmadapt.arch import dump_spec, load_spec
from mmadapt.engine.derived_train import (checkpoint_state, elastic_backbone_config, export_supernet, train_config,
                                          with_epochs, write_init)
from mmadapt.engine.holdout import holdout_split, use_holdout
from mmadapt.engine.launch import broadcast_object
from mmadapt.engine.pipeline import (PipelineFileError, clear_done, count_network, fit_input_widths, mark_done,
                                     open_pipeline_config, read_done, read_run_metrics, resolve_stored_path, run_stage,
                                     stage_dir, stored_path)
from mmadapt.utils.fileio import atomic_write_text

from .cost import build_search_cost
from .loop import first_metric
from .mcd import BudgetError, check_budget
from .settings import NAv2ConfigError, nav2_settings
from .space import NAv2Space, with_bypass

HOLDOUT = 'holdout.json'
TABLE = 'latency_table.json'


class NAv2FileError(PipelineFileError):
    """A file of a NetAdaptV2 work dir that cannot be read; the message names it."""


def _space_kwargs(nav2: dict) -> dict:
    return dict(nav2['space'])


def max_spec_of(cfg: Config, nav2: dict):
    """The super-network's spec: the initial network with the bypass limits of App. B."""
    seed = load_spec(cfg.model.backbone.spec)
    return seed, with_bypass(seed, nav2['bypass'])


def _elastic_config(cfg: Config, max_spec, split_file: str, load_from: Optional[str]) -> Config:
    ecfg = copy.deepcopy(cfg)
    ecfg.pop('netadaptv2', None)
    ecfg.model.backbone = ConfigDict(elastic_backbone_config(cfg.model.backbone, max_spec))
    fit_input_widths(ecfg.model, max_spec)
    use_holdout(ecfg, cfg, split_file, NAv2ConfigError, 'netadaptv2')
    ecfg.find_unused_parameters = True  # per-sample masks leave nothing unused, but a removed layer may
    ecfg.load_from = load_from
    return ecfg


def supernet_config(cfg: Config, nav2: dict, max_spec, split_file: str, load_from: Optional[str]) -> Config:
    """Ordered-dropout training of the super-network on the training split (validated on the held-out
    split at the max network)."""
    scfg = with_epochs(_elastic_config(cfg, max_spec, split_file, load_from), nav2['supernet']['epochs'])
    if nav2['supernet']['optim_wrapper'] is not None:
        scfg.optim_wrapper = ConfigDict(nav2['supernet']['optim_wrapper'])
    hooks = [h for h in (scfg.get('custom_hooks') or []) if 'OrderedDropoutHook' not in str(h.get('type', ''))]
    hooks.append(dict(type='mmadapt.OrderedDropoutHook', kernel_sampling=nav2['supernet']['kernel_sampling'],
                      seed=nav2['search']['seed'], **_space_kwargs(nav2)))
    scfg.custom_hooks = hooks
    for key in ('test_dataloader', 'test_evaluator', 'test_cfg'):
        scfg[key] = None
    return scfg


def search_config(cfg: Config, nav2: dict, max_spec, split_file: str, load_from: str, budget: float,
                  cost: dict) -> Config:
    """The MCD run: the super-network's weights, :class:`MCDSearchLoop`, the held-out split."""
    scfg = _elastic_config(cfg, max_spec, split_file, load_from)
    scfg.train_cfg = ConfigDict(type='mmadapt.MCDSearchLoop', budget=budget, cost=cost,
                                out_indices=cfg.model.backbone.get('out_indices'),
                                **_space_kwargs(nav2), **nav2['search'])
    scfg.param_scheduler = None
    scfg.custom_hooks = [h for h in (scfg.get('custom_hooks') or []) if 'EMAHook' not in str(h.get('type', ''))]
    for key in ('test_dataloader', 'test_evaluator', 'test_cfg'):
        scfg[key] = None
    hooks = copy.deepcopy(scfg.get('default_hooks') or ConfigDict())
    hooks.checkpoint = ConfigDict(type='CheckpointHook', interval=-1)  # the search changes no weight
    scfg.default_hooks = hooks
    return scfg


# -- latency --------------------------------------------------------------------------------------------
def _measure(spec, cfg: Config, nav2: dict) -> float:
    """Measured latency (ms) of the derived backbone of ``spec``: the cost's device and threads, batch 1."""
    from mmadapt.cost.latency import measure_network
    from mmadapt.models.checkpoint import build_spec_backbone
    lat, c = nav2['latency'], nav2['cost']
    net = build_spec_backbone(spec, cfg.model.backbone.get('out_indices'))
    return measure_network(net, c['input_size'], 1, c.get('threads', lat['threads']), lat['warmup'], lat['repeats'],
                           c.get('device', 'cpu'))


def prepare_cost(cfg: Config, nav2: dict, root: str, max_spec, seed) -> dict:
    """The search's cost settings; for a latency cost the table (``latency_table.json`` unless the
    config names one) is calibrated on the seed, the smallest network of the space and two random
    ones, affinely (factor and offset; rank 0 measures; the search then reads the file)."""
    cost = dict(nav2['cost'])
    if cost['type'] != 'latency':
        return cost
    cost.setdefault('table', osp.join(root, TABLE))
    if is_main_process():
        import torch
        from mmadapt.cost.latency import calibrate
        from mmadapt.models.checkpoint import build_spec_backbone
        sc = build_search_cost(cost, cfg.model.backbone.get('out_indices'))
        if not (sc.table.calibration and osp.isfile(cost['table'])):
            space = NAv2Space(max_spec, **_space_kwargs(nav2))
            g = torch.Generator().manual_seed(0)
            specs = [space.spec(space.max_genome), space.spec(space.min_genome)] + \
                [space.spec(x) for x in space.stratified_genomes(2, g)]
            nets = [build_spec_backbone(s, cfg.model.backbone.get('out_indices')) for s in specs]
            # affine: the sum of units misses each network's fixed cost, which a factor alone would
            # spread over large (over-predicted) and small (under-predicted) networks
            factor = calibrate(sc.table, specs, cost['input_size'], out_indices=cfg.model.backbone.get('out_indices'),
                               networks=nets, method='affine')
            print_log(f'NetAdaptV2: latency table of {len(sc.table)} units calibrated on {len(specs)} networks '
                      f'(measured = {factor:.3f} x units + {sc.table.offset:.3f} ms)', logger='current')
            os.makedirs(osp.dirname(osp.abspath(cost['table'])), exist_ok=True)
            sc.save_table()
    barrier()
    return cost


# -- trajectory-based weight transfer (App. A.2) --------------------------------------------------------
def transfer_weights(src_spec, src_state: Dict, dst_spec, train_cfg: Config, out_path: str) -> None:
    """The weights of the network of ``dst_spec`` taken from those of ``src_spec`` (a whole task model's
    state): the overlapping weights (leading filters and channels, centre kernel crops, BN statistics
    sliced) for the backbone, the layers after it cut to their inputs."""
    from mmadapt.cost.config_cost import build_model_from_config
    from mmadapt.remap import remap_state_dict
    template = build_model_from_config(train_cfg).state_dict()
    backbone = {k[len('backbone.'):]: v for k, v in src_state.items() if k.startswith('backbone.')}
    dst_template = {k[len('backbone.'):]: v for k, v in template.items() if k.startswith('backbone.')}
    state, _ = remap_state_dict(load_spec(src_spec), backbone, load_spec(dst_spec), dst_template, 'fna')
    write_init(train_cfg, state, src_state, out_path, dict(transferred_to=load_spec(dst_spec).to_dict()))


def trajectory_steps(trajectory: dict, every: int) -> List[dict]:
    """The trajectory's networks to walk: every ``every``-th iteration's best, always the last."""
    rows = trajectory['iterations']
    picked = [r for k, r in enumerate(rows, 1) if k % every == 0]
    if rows and (not picked or picked[-1] is not rows[-1]):
        picked.append(rows[-1])
    return picked


def _early_budget_check(cfg: Config, nav2: dict, max_spec) -> None:
    """Refuse a budget that cannot be met before anything is trained: for MAdds in full, for a
    latency budget given as a ratio its schedule floor (the rest once the table is measured)."""
    s = nav2['search']
    try:
        if nav2['cost']['type'] == 'madds':
            space = NAv2Space(max_spec, **_space_kwargs(nav2))
            sc = build_search_cost(nav2['cost'], cfg.model.backbone.get('out_indices'))
            r_init = sc(space.spec(space.max_genome))
            budget = nav2['budget'] if nav2['budget'] is not None else nav2['budget_ratio'] * r_init
            check_budget(budget, r_init, sc(space.spec(space.min_genome)), s['r0'], s['decay'], ' MAdds')
        elif nav2['budget_ratio'] is not None:
            check_budget(nav2['budget_ratio'], 1.0, 0.0, s['r0'], s['decay'], ' x the seed')
    except BudgetError as e:
        raise BudgetError(f'netadaptv2: {e}') from None


# -- the pipeline ---------------------------------------------------------------------------------------
def run_pipeline(config, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                 launcher: str = 'none', resume: bool = False) -> dict:
    """Run NetAdaptV2 on ``config`` (see the module docstring); returns the summary."""
    from mmadapt.utils.checkpoint import latest_checkpoint

    cfg, name, root = open_pipeline_config(config, work_dir, cfg_options, NAv2ConfigError, 'netadaptv2')
    nav2 = nav2_settings(cfg)
    seed, max_spec = max_spec_of(cfg, nav2)
    out_indices = cfg.model.backbone.get('out_indices')
    stages = ['initial', 'supernet', 'search', 'final', 'seed']
    if not resume:
        clear_done(root, stages)
    _early_budget_check(cfg, nav2, max_spec)
    split_file = osp.join(root, HOLDOUT)
    holdout_split(cfg, nav2['holdout'], split_file, NAv2ConfigError, 'netadaptv2.holdout')
    epochs = nav2['final']['epochs']

    # the initial network's weights: a checkpoint, or trained here with the config's recipe
    seed_ckpt = nav2['seed']['checkpoint']
    if seed_ckpt == 'train':
        done = read_done(root, 'initial') if resume else None
        if done is None:
            idir = stage_dir(root, 'initial')
            icfg = use_holdout(train_config(cfg, seed), cfg, split_file, NAv2ConfigError, 'netadaptv2')
            for key in ('test_dataloader', 'test_evaluator', 'test_cfg'):
                icfg[key] = None
            if is_main_process():
                os.makedirs(idir, exist_ok=True)
            print_log('NetAdaptV2: training the initial network with the config\'s recipe (netadaptv2.seed.checkpoint='
                      "'train')", logger='current')
            _, seconds = run_stage(icfg, idir, launcher, resume, f'{name}_initial', test=False)
            mark_done(root, 'initial', dict(record=dict(seconds=seconds, val=read_run_metrics(idir, NAv2FileError)['val']),
                                            checkpoint=stored_path(root, latest_checkpoint(idir))))
            done = read_done(root, 'initial')
        seed_ckpt = resolve_stored_path(root, 'initial', 'checkpoint', done['checkpoint'], error=NAv2ConfigError)

    # the super-network
    done = read_done(root, 'supernet') if resume else None
    if done is None:
        sdir = stage_dir(root, 'supernet')
        scfg = supernet_config(cfg, nav2, max_spec, split_file, seed_ckpt)
        if seed_ckpt is None:
            print_log('NetAdaptV2: no initial weights (netadaptv2.seed.checkpoint); the super-network trains from '
                      'scratch', logger='current')
        if is_main_process():
            os.makedirs(sdir, exist_ok=True)
            dump_spec(max_spec, osp.join(sdir, 'max_spec.yaml'))
        _, seconds = run_stage(scfg, sdir, launcher, resume, f'{name}_supernet', test=False)
        metrics = read_run_metrics(sdir, error=NAv2FileError)
        mark_done(root, 'supernet', dict(record=dict(seconds=seconds, val=metrics['val']),
                                         checkpoint=stored_path(root, latest_checkpoint(sdir))))
        done = read_done(root, 'supernet')
    supernet = done['record']
    super_ckpt = resolve_stored_path(root, 'supernet', 'checkpoint', done['checkpoint'], error=NAv2ConfigError)

    # the budget and the search
    cost = prepare_cost(cfg, nav2, root, max_spec, seed)
    sc = build_search_cost(cost, out_indices)
    seed_measured = _measure(seed, cfg, nav2) if cost['type'] == 'latency' and is_main_process() else None
    seed_measured = broadcast_object(seed_measured)
    space = NAv2Space(max_spec, **_space_kwargs(nav2))
    r_init = sc(space.spec(space.max_genome))
    if nav2['budget'] is not None:
        budget = float(nav2['budget'])
    else:  # a latency target is a fraction of the seed's measured latency
        budget = nav2['budget_ratio'] * (seed_measured if seed_measured is not None else r_init)
    s = nav2['search']
    try:
        check_budget(budget, r_init, sc(space.spec(space.min_genome)), s['r0'], s['decay'], f' {sc.unit}')
    except BudgetError as e:
        raise BudgetError(f'netadaptv2: {e}') from None
    done = read_done(root, 'search') if resume else None
    search_dir = stage_dir(root, 'search')
    if done is None:
        scfg = search_config(cfg, nav2, max_spec, split_file, super_ckpt, budget, cost)
        if is_main_process():
            os.makedirs(search_dir, exist_ok=True)
        runner, seconds = run_stage(scfg, search_dir, launcher, True, f'{name}_search', test=False)
        loop = runner.train_loop
        if not loop.mcd.done(loop.state):
            raise RuntimeError(f'NetAdaptV2: the search stopped at iteration {loop.state["iteration"]} before the '
                               'budget (max_iterations); run again with --resume to go on')
        record = dict(seconds=seconds, budget=budget, unit=sc.unit, r_init=loop.mcd.r_init,
                      iterations=loop.state['iteration'], samples=loop.state['samples_evaluated'],
                      found=loop.space.spec(loop.state['genome']).to_dict(),  # every rank holds it (checked)
                      found_cost=loop.state['cost'], found_score=loop.state['score'], start_score=loop.start_score)
        mark_done(root, 'search', dict(record=record))
        done = read_done(root, 'search')
    search = done['record']
    found = load_spec(search['found'])
    if is_main_process():
        dump_spec(found, osp.join(root, 'found_spec.yaml'))
    print_log(f'NetAdaptV2: found {search["found_cost"]:.6g} {search["unit"]} (budget {budget:.6g}, seed '
              f'{search["r_init"]:.6g}) after {search["iterations"]} iterations, {search["samples"]} samples: '
              f'{found.describe()}', logger='current')

    rows: Dict[str, dict] = {}

    def train(stage: str, spec, init: str, load_from: Optional[str], n_epochs, sdir=None) -> dict:
        done = read_done(root, stage) if resume else None
        if done is not None:
            print_log(f'NetAdaptV2: {stage} is done, skipped (--resume)', logger='current')
            return done['record']
        sdir = sdir or stage_dir(root, stage)
        tcfg = with_epochs(train_config(cfg, spec, load_from), n_epochs)
        if is_main_process():
            os.makedirs(sdir, exist_ok=True)
            dump_spec(spec, osp.join(sdir, 'spec.yaml'))
        barrier()
        _, seconds = run_stage(tcfg, sdir, launcher, resume, f'{name}_{stage}')
        metrics = read_run_metrics(sdir, error=NAv2FileError)
        counted = count_network(tcfg, nav2['cost']['input_size'])
        record = dict(stage=stage, spec=spec.to_dict(), describe=spec.describe(), cost=sc(spec), unit=sc.unit,
                      params=counted['params'], model_madds=counted['madds'],
                      backbone_madds=counted.get('backbone_madds'), init=init, seconds=seconds,
                      epochs=tcfg.train_cfg.get('max_epochs'), val=metrics['val'], test=metrics['test'])
        mark_done(root, stage, dict(record=record, checkpoint=stored_path(root, latest_checkpoint(sdir))))
        return record

    def supernet_init(spec, stage: str) -> str:
        sdir = stage_dir(root, stage)
        path = osp.join(sdir, 'supernet_init.pth')
        if is_main_process():
            os.makedirs(sdir, exist_ok=True)
            ecfg = _elastic_config(cfg, max_spec, split_file, None)
            export_supernet(ecfg, super_ckpt, spec, train_config(cfg, spec), path)
        barrier()
        return path

    init = nav2['final']['init']
    if init == 'trajectory':
        rows['found'] = _walk_trajectory(cfg, nav2, root, search_dir, max_spec, split_file, super_ckpt, found, train,
                                         supernet_init, epochs)
    else:
        rows['found'] = train('final', found, init, supernet_init(found, 'final') if init == 'supernet' else None,
                              epochs)
    if 'seed' in nav2['compare']:  # the initial network: the super-network's max (its layers' limits T change nothing)
        seed_init = 'supernet' if init != 'scratch' else 'scratch'
        top = space.spec(space.max_genome)
        rows['seed'] = train('seed', top, seed_init, supernet_init(top, 'seed') if seed_init == 'supernet' else None,
                             epochs)
    if cost['type'] == 'latency':  # the table as the search left it (its units, its calibration)
        sc = build_search_cost(cost, out_indices)
    for key, row in rows.items():
        if cost['type'] == 'latency' and is_main_process():
            spec = load_spec(row['spec'])
            row['latency_measured'] = seed_measured if key == 'seed' and seed_measured else _measure(spec, cfg, nav2)
            row['latency_predicted'] = sc.table.predict(spec, cost['input_size'], out_indices)
    return _write_summary(root, nav2, rows, search, supernet, sc)


def _walk_trajectory(cfg, nav2, root, search_dir, max_spec, split_file, super_ckpt, found, train, supernet_init,
                     epochs) -> dict:
    """App. A.2: from the initial network (its slice of the super-network), shrink along the
    trajectory, reusing the overlapping weights and training ``transfer_epochs`` at each step; then
    train the found network for ``epochs``."""
    from mmadapt.utils.fileio import read_json_object
    traj = read_json_object(osp.join(search_dir, 'trajectory.json'))
    steps = trajectory_steps(traj, nav2['final']['transfer_every'])
    seed = load_spec(traj['start']['spec'])
    prev_spec, prev_ckpt = seed, supernet_init(seed, 'final')
    prev_state = checkpoint_state(prev_ckpt, 'super-network export')
    for k, row in enumerate(steps):
        spec = load_spec(row['spec'])
        stage = f'final_transfer_{k}'
        sdir = osp.join(stage_dir(root, 'final'), f'transfer_{k}')
        path = osp.join(sdir, 'transfer_init.pth')
        if is_main_process() and read_done(root, stage) is None:
            os.makedirs(sdir, exist_ok=True)
            transfer_weights(prev_spec, prev_state, spec, train_config(cfg, spec), path)
        barrier()
        last = k == len(steps) - 1
        rec = train(stage, spec, 'trajectory', path, epochs if last else nav2['final']['transfer_epochs'], sdir)
        done = read_done(root, stage)
        prev_ckpt = resolve_stored_path(root, stage, 'checkpoint', done['checkpoint'], error=NAv2ConfigError)
        prev_state, prev_spec = checkpoint_state(prev_ckpt, f'trajectory step {k}'), spec
        if last:
            rec = dict(rec, stage='final', steps=len(steps))
            return rec
    raise NAv2ConfigError('netadaptv2.final.init="trajectory": the search trajectory is empty (the seed already '
                          'meets the budget)')


def _write_summary(root: str, nav2: dict, rows: Dict[str, dict], search: dict, supernet: dict, sc) -> dict:
    summary = dict(method='netadaptv2', unit=search['unit'], budget=search['budget'], search=search,
                   supernet=supernet, rows=rows, settings=dict(nav2))
    if not is_main_process():
        return summary
    metric = first_metric(rows['found'].get('test') or rows['found'].get('val') or {}) or 'score'
    lines = ['# NetAdaptV2', '',
             f"Budget {search['budget']:.6g} {search['unit']}; the search took {search['iterations']} iterations, "
             f"{search['samples']} samples, {search['seconds']:.0f} s; super-network training "
             f"{supernet['seconds']:.0f} s.", '',
             f'| network | {metric} | search cost ({search["unit"]}) | MAdds (model) | params | predicted ms | '
             'measured ms | prediction error | init | train time |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for key in ('seed', 'found'):
        if key not in rows:
            continue
        r = rows[key]
        score = (r.get('test') or r.get('val') or {}).get(metric)
        pred, meas = r.get('latency_predicted'), r.get('latency_measured')
        err = f'{100 * (pred - meas) / meas:+.1f}%' if pred is not None and meas else '-'
        lines.append(f"| {key} | {'-' if score is None else f'{score:.4g}'} | {r['cost']:.6g} | "
                     f"{r['model_madds'] / 1e6:.2f}M | {r['params'] / 1e6:.3f}M | "
                     f"{'-' if pred is None else f'{pred:.3f}'} | {'-' if meas is None else f'{meas:.3f}'} | {err} | "
                     f"{r['init']} | {r['seconds']:.0f} s |")
    lines += ['', f"Found: `{load_spec(rows['found']['spec']).describe()}`", '',
              'Trajectory: `search/trajectory.json`, `search/trajectory.png`.']
    atomic_write_text(osp.join(root, 'summary.json'), json.dumps(summary, indent=1, default=str) + '\n')
    atomic_write_text(osp.join(root, 'summary.md'), '\n'.join(lines) + '\n')
    print_log('\n'.join(lines), logger='current')
    return summary
