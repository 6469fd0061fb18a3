"""DNA end to end behind ``python tools/train.py <config with a dna dict>``: search -> derive -> train -> test.

A DNA config is an ordinary task config (mmpretrain, mmdet, ...) whose backbone is the seed network
(``mmadapt.DerivedMobileNetV2`` / ``DerivedResNet`` / ``DerivedMobileNetV1``), plus a ``dna`` dict
(:mod:`.settings`). Stages, each a folder of the work dir::

    seed/          (with dna.seed.checkpoint='train' or 'seed' in dna.compare) the seed trained with the
                   config's recipe; its test metric is the seed's row of the summary
    search/        the three-phase search (mmadapt.DNALoop) on an elastic network built at the bank
                   spec, the seed's weights remapped into it: rounds/round_<i>.yaml|png, rounds.json
    target/        the target network (target.yaml, the expected network of Sec. 3.5 by default) trained
                   with the config's recipe, from scratch (the paper) or from the super-net (beyond it)
    markov_<k>/    (dna.target.markov > 0) Markov-sampled networks within the budget, trained the same way
    uniform/       (with 'uniform' in dna.compare) the seed with every width scaled by one factor to the
                   target's MAdds, trained the same way
    summary.json, summary.md

``--resume`` skips finished stages and resumes a stage's run from its own checkpoints (the search
mid-round included).
"""
import copy
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, is_main_process
from mmengine.logging import print_log

from mmadapt.arch import ArchSpec, dump_spec, load_spec, spec_from_dict
from mmadapt.arch.widths import get_widths, set_widths, width_vars
from mmadapt.cost.rescale import BudgetError, rescale_widths
from mmadapt.engine.derived_train import checkpoint_state, elastic_backbone_config, export_supernet, train_config, with_epochs, write_init
from mmadapt.engine.pipeline import (PipelineFileError, clear_done, count_network, fit_input_widths, mark_done,
                                     open_pipeline_config,
                                     read_done, read_run_metrics, resolve_stored_path, run_stage, stage_dir,
                                     stored_path)
from mmadapt.utils.fileio import atomic_write_text

from .settings import DNAConfigError, dna_settings
from .space import DNASpace, UnitGroups, bank_spec, max_blocks_of, unit_groups, width_options



class DNAFileError(PipelineFileError):
    """A file of a DNA work dir that cannot be read; the message names it."""


def _max_blocks(seed, search: dict) -> List[int]:
    try:
        return max_blocks_of(seed, search['max_blocks'], search['depth'])
    except ValueError as e:
        raise DNAConfigError(f'dna.search.max_blocks: {e}') from None


def search_setup(cfg: Config, dna: dict) -> dict:
    """What the search starts from: the seed (without removed layers), its units' groups, the most
    blocks per stage, the bank spec, the seed's space, its MAdds and the budget (checked reachable)."""
    seed, _ = drop_removed_layers(dna['seed']['spec'])  # the same network, without identity layers in between
    out_indices = cfg.model.backbone.get('out_indices')
    s = dna['search']
    groups = unit_groups(seed, s['groups'], s['max_groups'], out_indices)
    max_blocks = _max_blocks(seed, s)
    bank, _ = bank_spec(seed, groups, max_blocks, out_indices)
    space = DNASpace(seed, groups, max_blocks, s['width'], s['depth'], dna['cost']['input_size'],
                     dna['cost']['num_classes'], out_indices)
    seed_cost = space.cost_of(seed)
    budget = dna['budget'] or dna['budget_ratio'] * seed_cost
    _check_budget(seed, groups, s, budget, space, out_indices)
    return dict(seed=seed, groups=groups, max_blocks=max_blocks, bank=bank, space=space, out_indices=out_indices,
                seed_cost=seed_cost, budget=budget)


def search_config(cfg: Config, dna: dict, seed, bank, load_from: Optional[str]) -> Config:
    """The search run's config: the elastic network of the bank spec and ``mmadapt.DNALoop``."""
    s = dna['search']
    scfg = copy.deepcopy(cfg)
    scfg.pop('dna', None)
    derived = scfg.model.backbone
    scfg.model.backbone = ConfigDict(elastic_backbone_config(derived, bank))
    fit_input_widths(scfg.model, bank)
    loop = dict(type='mmadapt.DNALoop', seed_spec=seed.to_dict(), input_size=dna['cost']['input_size'],
                num_classes=dna['cost']['num_classes'], out_indices=derived.get('out_indices'),
                budget=dna['budget'], budget_ratio=dna['budget_ratio'],
                **{k: v for k, v in s.items() if k not in ('optim_wrapper', )})
    if loop['arch_optim'] is None:
        loop.pop('arch_optim')
    scfg.train_cfg = ConfigDict(loop)
    if s['optim_wrapper'] is not None:
        scfg.optim_wrapper = ConfigDict(s['optim_wrapper'])
    scfg.param_scheduler = None  # the loop installs its own (constant warm-up, cosine over the rounds)
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg', 'test_dataloader', 'test_evaluator', 'test_cfg'):
        scfg[key] = None
    hooks = copy.deepcopy(scfg.get('default_hooks') or ConfigDict())
    hooks.checkpoint = ConfigDict(type='CheckpointHook', interval=1, by_epoch=True, max_keep_ckpts=2)
    scfg.default_hooks = hooks
    scfg.find_unused_parameters = True  # sub-networks leave layers of the bank unused (DDP wrapper: launch)
    scfg.load_from = load_from
    return scfg


def drop_removed_layers(spec) -> Tuple[ArchSpec, Dict[Tuple[int, int], Tuple[int, int]]]:
    """``spec`` without its removed layers (``skip`` / ``_h0``: identities, e.g. of an FNA++-derived
    network), and where every kept layer moves: ``(stage, layer) -> (stage, new layer)``. DNA adapts
    depth at the end of each stage, so its seeds have no removed layer in between."""
    spec = load_spec(spec)
    d = spec.to_dict()
    moves = {}
    for info in spec.layers():
        if info.layer == 0:
            kept = []
        block = info.candidates[0]
        removed = block.is_skip or info.hidden(block, spec.block_type) == 0
        if not removed:
            moves[(info.stage, info.layer)] = (info.stage, len(kept))
            kept.append(d['stages'][info.stage]['blocks'][info.layer])
        if info.layer == spec.stages[info.stage].depth - 1:
            d['stages'][info.stage]['blocks'] = kept
    return spec_from_dict(d), moves


def _seed_backbone(seed, checkpoint: str, dst, out_indices):
    """The seed's backbone weights remapped into the backbone of ``dst`` (leading channels, leading
    layers; new parts: fresh initialisation) and the report. A seed with removed layers (skip) is
    read as the network without them (same function)."""
    import re
    from mmadapt.models.checkpoint import build_spec_backbone
    from mmadapt.remap import load_seed, remap_state_dict
    seed = load_spec(seed)
    compact, moves = drop_removed_layers(seed)
    seed_state, _ = load_seed(checkpoint, seed, what=f'seed checkpoint {checkpoint}')
    renamed = {}
    for key, value in seed_state.items():
        m = re.match(r'stages\.(\d+)\.(\d+)\.(.*)', key)
        if m:
            s, j = moves[(int(m.group(1)), int(m.group(2)))]
            key = f'stages.{s}.{j}.{m.group(3)}'
        renamed[key] = value
    target = build_spec_backbone(dst, out_indices).state_dict()
    return remap_state_dict(compact, renamed, dst, target, 'fna')


def seed_into_bank(cfg: Config, seed, bank, checkpoint: str, out_path: str, out_indices) -> None:
    """The seed's weights remapped into the search network of ``cfg`` (new channels and blocks: fresh
    initialisation); a seed checkpoint of the whole task model also gives its neck and head."""
    state, report = _seed_backbone(seed, checkpoint, bank, out_indices)
    copied = write_init(cfg, state, checkpoint_state(checkpoint, 'seed checkpoint'), out_path,
                         dict(dna_seed=load_spec(seed).to_dict()))
    print_log(f'DNA: seed {checkpoint} remapped into the search network ({len(copied)} keys of the neck / head '
              f'copied):\n{report.summary()}', logger='current')


def seed_init(seed, checkpoint: str, spec, train_cfg: Config, out_path: str, out_indices) -> None:
    """Weights for the derived network of ``spec`` from the seed's (leading channels and layers)."""
    state, _ = _seed_backbone(seed, checkpoint, spec, out_indices)
    write_init(train_cfg, state, checkpoint_state(checkpoint, 'seed checkpoint'), out_path,
                dict(dna_seed_init=load_spec(spec).to_dict()))


def uniform_network(seed, target_cost: float, space: DNASpace, out_indices=None):
    """The seed with every width scaled by one factor, closest to ``target_cost`` MAdds."""
    kw = width_options(seed, out_indices)
    base = get_widths(seed, **kw)

    def cost(ws):
        return space.cost_of(set_widths(seed, ws, **kw))

    try:
        widths, err, info = rescale_widths(base, cost, target_cost, tolerance=0.02, min_width=1, max_moves=0)
    except BudgetError as e:
        raise BudgetError(f'the uniformly scaled seed cannot reach {target_cost / 1e6:.3f}M MAdds: {e}') from None
    spec = set_widths(seed, widths, name=f"{seed.name}_x{info['factor']:.3f}", **kw)
    return spec, info['factor']


def run_pipeline(config, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                 launcher: str = 'none', resume: bool = False) -> dict:
    """Run DNA on ``config`` (see the module docstring); returns the summary."""
    from mmadapt.utils.checkpoint import latest_checkpoint

    cfg, name, root = open_pipeline_config(config, work_dir, cfg_options, DNAConfigError, 'dna')
    dna = dna_settings(cfg)
    given_seed = load_spec(dna['seed']['spec'])
    setup = search_setup(cfg, dna)
    seed, groups, max_blocks, bank, seed_space = (setup[k] for k in ('seed', 'groups', 'max_blocks', 'bank', 'space'))
    out_indices, seed_cost, budget = setup['out_indices'], setup['seed_cost'], setup['budget']
    s = dna['search']
    stages = ['seed', 'seed_finetune', 'search', 'target', 'uniform'] + [f'markov_{k}' for k in range(dna['target']['markov'])]
    if not resume:
        clear_done(root, stages)
    rows: Dict[str, dict] = {}

    def train(stage: str, spec, init: str, load_from: Optional[str] = None, epochs: Optional[int] = None) -> dict:
        done = read_done(root, stage) if resume else None
        if done is not None:
            print_log(f'DNA: {stage} is done, skipped (--resume)', logger='current')
            return done['record']
        sdir = stage_dir(root, stage)
        tcfg = with_epochs(train_config(cfg, spec, load_from), epochs)
        if is_main_process():
            os.makedirs(sdir, exist_ok=True)
            dump_spec(spec, osp.join(sdir, 'spec.yaml'))
        barrier()
        print_log(f'DNA: training {stage} ({seed_space.cost_of(spec) / 1e6:.3f}M MAdds, {init}): {spec.describe()}',
                  logger='current')
        _, seconds = run_stage(tcfg, sdir, launcher, resume, f'{name}_{stage}')
        metrics = read_run_metrics(sdir, error=DNAFileError)
        size = dna['cost']['input_size']
        counted = count_network(tcfg, size)
        record = dict(stage=stage, spec=spec.to_dict(), describe=spec.describe(), madds=seed_space.cost_of(spec),
                      params=counted['params'], model_madds=counted['madds'], init=init, seconds=seconds,
                      epochs=tcfg.train_cfg.get('max_epochs'),
                      val=metrics['val'], test=metrics['test'])
        mark_done(root, stage, dict(record=record, checkpoint=stored_path(root, latest_checkpoint(sdir))))
        return record

    # the seed, trained with the recipe (its checkpoint can start the search)
    seed_ckpt = dna['seed']['checkpoint']
    epochs = dna['target']['epochs']
    from_seed = dna['compare_init'] == 'seed'
    if seed_ckpt == 'train' or ('seed' in dna['compare'] and not from_seed):
        rows['seed'] = train('seed', given_seed, 'scratch')
        if seed_ckpt == 'train':
            done = read_done(root, 'seed')
            seed_ckpt = resolve_stored_path(root, 'seed', 'checkpoint', done['checkpoint'], error=DNAConfigError)
    if from_seed and not seed_ckpt:
        raise DNAConfigError("dna.compare_init='seed' needs the seed's weights: dna.seed.checkpoint (a file or 'train')")
    if from_seed and 'seed' in dna['compare']:  # the seed trained on for as long as the other rows
        rows['seed'] = train('seed_finetune', given_seed, 'seed', seed_ckpt, epochs)

    # the search
    sdir = stage_dir(root, 'search')
    done = read_done(root, 'search') if resume else None
    bank_init = None
    if seed_ckpt:
        bank_init = osp.join(sdir, 'seed_in_bank.pth')
    scfg = search_config(cfg, dna, seed, bank, bank_init)
    if done is None:
        if is_main_process():
            os.makedirs(sdir, exist_ok=True)
            if seed_ckpt and not (resume and osp.isfile(bank_init)):
                seed_into_bank(scfg, given_seed, bank, seed_ckpt, bank_init, out_indices)
        barrier()
        if not seed_ckpt:
            print_log('DNA: no seed checkpoint (dna.seed.checkpoint); the search starts from random weights',
                      logger='current', level=logging.WARNING)
        runner, seconds = run_stage(scfg, sdir, launcher, resume, f'{name}_search', test=False)
        loop = runner.train_loop
        record = dict(history=loop.history, final=loop.final, seconds=seconds, budget=budget, seed_madds=seed_cost)
        mark_done(root, 'search', dict(record=record, checkpoint=stored_path(root, latest_checkpoint(sdir))))
        done = read_done(root, 'search')
    search = done['record']
    target = load_spec(search['final']['target'])
    search_ckpt = resolve_stored_path(root, 'search', 'checkpoint', done['checkpoint'], error=DNAConfigError)
    if is_main_process():
        dump_spec(target, osp.join(root, 'target.yaml'))
    print_log(f'DNA: target network {seed_space.cost_of(target) / 1e6:.3f}M MAdds (budget {budget / 1e6:.3f}M, seed '
              f'{seed_cost / 1e6:.3f}M): {target.describe()}', logger='current')

    # the target
    load_from = None
    if dna['target']['init'] == 'supernet':
        tdir = stage_dir(root, 'target')
        load_from = osp.join(tdir, 'supernet_init.pth')
        if is_main_process():
            os.makedirs(tdir, exist_ok=True)
            export_supernet(scfg, search_ckpt, target, train_config(cfg, target), load_from)
        barrier()
    rows['dna'] = train('target', target, dna['target']['init'], load_from, epochs)

    # Markov-sampled networks (Table 4)
    if dna['target']['markov']:
        final = search['final']
        space = DNASpace(final['space_center'], {k: UnitGroups(**g) for k, g in final['groups'].items()}, max_blocks,
                         s['width'], s['depth'], dna['cost']['input_size'], dna['cost']['num_classes'], out_indices)
        alphas = {k: torch.tensor(v) for k, v in final['alphas'].items()}
        gen = torch.Generator().manual_seed(cfg.get('randomness', {}).get('seed') or 0)
        for k in range(dna['target']['markov']):
            spec = space.markov_network(alphas, budget, dna['target']['markov_tolerance'], generator=gen,
                                        name=f'{seed.name}_dna_markov{k}')
            rows[f'markov_{k}'] = train(f'markov_{k}', spec, 'scratch', None, epochs)

    # the uniformly scaled seed of the target's MAdds
    if 'uniform' in dna['compare']:
        spec, factor = uniform_network(seed, seed_space.cost_of(target), seed_space, out_indices)
        init, load_from = 'scratch', None
        if from_seed:
            udir = stage_dir(root, 'uniform')
            init, load_from = 'seed', osp.join(udir, 'seed_init.pth')
            if is_main_process():
                os.makedirs(udir, exist_ok=True)
                seed_init(given_seed, seed_ckpt, spec, train_config(cfg, spec), load_from, out_indices)
            barrier()
        rows['uniform'] = train('uniform', spec, init, load_from, epochs)
        rows['uniform']['factor'] = factor
    return _write_summary(root, dna, rows, search, budget, seed_cost)


def _check_budget(seed, groups, s, budget, space: DNASpace, out_indices) -> None:
    """A budget below the smallest network DNA can reach (every unit at its first group, every stage at
    one block) cannot be met: say so before anything runs."""
    kw = width_options(seed, out_indices)
    n = kw['num_stages']
    wvars = width_vars(seed, **kw)
    small = set_widths(seed, {v.name: groups[v.name].min for v in wvars} if s['width'] else {}, **kw)
    if s['depth']:
        d = small.to_dict()
        for st in d['stages'][:n]:
            if seed.family != 'mbv1':
                st['blocks'] = st['blocks'][:1]
        small = spec_from_dict(d)
    floor = space.cost_of(small)
    if budget < floor:
        raise BudgetError(f'DNA budget {budget / 1e6:.3f}M MAdds cannot be met: the smallest network the search can '
                          f'reach costs {floor / 1e6:.3f}M (every unit at one group{", one block per stage" if s["depth"] else ""})')


def _metric_key(rows: Dict[str, dict]) -> Optional[str]:
    for r in rows.values():
        for k, v in (r.get('test') or r.get('val') or {}).items():
            if isinstance(v, (int, float)):
                return k
    return None


def _write_summary(root: str, dna: dict, rows: Dict[str, dict], search: dict, budget: float, seed_cost: float) -> dict:
    key = _metric_key(rows)
    summary = dict(budget=budget, seed_madds=seed_cost, metric=key, rows=rows,
                   rounds=[{k: v for k, v in r.items() if k != 'spec'} for r in search['history']])
    if is_main_process():
        atomic_write_text(osp.join(root, 'summary.json'), json.dumps(summary, indent=1) + '\n')
        labels = dict(seed='seed', dna='DNA (target)', uniform='uniformly scaled seed')
        lines = [f'| network | MAdds | vs seed | params | test {key or "-"} | init | architecture |',
                 '| --- | --- | --- | --- | --- | --- | --- |']
        for k, r in rows.items():
            m = (r.get('test') or r.get('val') or {}).get(key) if key else None
            label = labels.get(k, k.replace('markov_', 'Markov-sampled '))
            if k == 'uniform':
                label += f" (x{r['factor']:.3f})"
            lines.append(f"| {label} | {r['madds'] / 1e6:.3f}M | {r['madds'] / seed_cost:.1%} | {r['params'] / 1e6:.3f}M | "
                         f"{'-' if m is None else f'{m:.4f}'} | {r['init']} | {r['describe']} |")
        hist = search['history']
        text = '\n'.join(lines) + (
            f"\n\nbudget {budget / 1e6:.3f}M MAdds ({budget / seed_cost:.0%} of the seed's {seed_cost / 1e6:.3f}M); "
            f"{len(hist)} rounds; expected MAdds per round: "
            + ', '.join(f"{h['expected_madds'] / 1e6:.2f}M" for h in hist) + '\n'
            + "MAdds: multiply-adds of conv and FC layers at the cost's input size; the test metric of every row "
            "comes from the same training recipe (the config's)\n")
        atomic_write_text(osp.join(root, 'summary.md'), text)
        print_log(f'DNA summary ({root}/summary.md):\n{text}', logger='current')
    barrier()
    return summary
