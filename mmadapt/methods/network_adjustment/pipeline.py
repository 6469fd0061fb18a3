"""Network Adjustment (Algorithm 1) behind ``python tools/train.py <config with network_adjustment>``.

A Network Adjustment config is an ordinary task config (mmpretrain, mmdet, ...) whose backbone is a
derived spec backbone (``mmadapt.DerivedResNet`` / ``DerivedMobileNetV2`` / ``DerivedMobileNetV1``),
plus a ``network_adjustment`` dict (:mod:`.settings`). Each round ``t`` is a stage of the work dir::

    holdout.json                the seeded hold-out split of the training set (indices)
    round_<t>/spec.yaml         the widths c^(t) of the round
    round_<t>/                  its training run (train split minus the hold-out; validated on the
                                hold-out; tested on the config's test set), results.json
    round_<t>/fur.json          FLOPs sensitivities, drop rates and FUR of every width, the adjustment
    round_<t>/stage_done.json   the round is finished
    best_spec.yaml, widths.png, summary.json, summary.md

Round 0 trains the starting spec; after each round but the last the FUR of every width is measured
on the hold-out split, the ``k_t`` widths of largest FUR grow and the ``k_t`` of smallest shrink by a
fraction of their initial width, and all widths are rescaled so that the cost returns to the target
(:mod:`.adjust`). The result (Algorithm 1, line 16) is the round of best hold-out metric; the test
set never chooses anything. ``--resume`` skips finished rounds and resumes a round's training from
its own checkpoints. Every rank computes the same adjustment (the FUR is all-reduced) and rank 0's is
broadcast, so DDP ranks cannot drift apart.

Beyond the paper, ``init='inherit'`` starts each round from the previous round's weights remapped to
the new widths (:func:`mmadapt.models.remap_checkpoint`); the paper retrains from scratch.
"""
import copy
import json
import logging
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.dist import barrier, broadcast_object_list, is_main_process
from mmengine.logging import print_log

from mmadapt.arch import dump_spec, load_spec
from mmadapt.arch.widths import get_widths, set_widths, width_vars
from mmadapt.engine.holdout import holdout_split as shared_holdout_split
from mmadapt.engine.holdout import use_holdout
from mmadapt.engine.launch import unwrap
from mmadapt.engine.pipeline import (PipelineFileError, clear_done, fit_input_widths, mark_done, read_done,
                                     open_pipeline_config,
                                     read_run_metrics, run_stage,
                                     stage_dir, stored_path, resolve_stored_path)
from mmadapt.utils.fileio import atomic_write_text

from .adjust import BudgetError, adjust_widths, drop_rates, k_schedule, rescale_widths
from .settings import NAConfigError, na_settings

HOLDOUT = 'holdout.json'


class NAFileError(PipelineFileError):
    """A file of a Network Adjustment work dir that cannot be read; the message names it."""


def _round(t: int) -> str:
    return f'round_{t}'


# -- cost ---------------------------------------------------------------------------------------------
class RoundCost:
    """The cost of a spec (MAdds, or latency from a table) and the FLOPs sensitivities of its widths."""

    def __init__(self, na: dict, out_indices, num_stages: int):
        self.cfg = na['cost']
        self.size = self.cfg['input_size']
        self.out_indices = out_indices
        self.num_stages = num_stages
        self.table = None
        if self.cfg['type'] == 'latency':
            from mmadapt.cost import LatencyTable
            table = self.cfg['table']
            self.table = LatencyTable.load(table) if isinstance(table, str) else LatencyTable(**table)

    @property
    def unit(self) -> str:
        return 'ms' if self.table is not None else 'MAdds'

    def __call__(self, spec) -> float:
        if self.table is not None:
            return float(self.table.predict(spec, self.size, self.out_indices))
        from mmadapt.cost import classifier_cost, spec_cost
        if self.cfg['num_classes'] is not None:
            return float(classifier_cost(spec, self.cfg['num_classes'], self.size).madds)
        return float(spec_cost(spec, self.size, self.out_indices).madds)

    def sensitivities(self, spec) -> List[float]:
        """``c_l * dCost/dc_l``: exact MAdds terms, or a finite difference of the latency (10% of the width)."""
        if self.table is None:
            from mmadapt.cost.width_terms import width_cost
            return width_cost(spec, self.size, self.cfg['num_classes'], self.out_indices,
                              self.cfg['tie']).sensitivities()
        widths = get_widths(spec, self.num_stages)
        base = self(spec)
        out = []
        for i, w in enumerate(widths):
            step = max(1, round(0.1 * w))
            ws = list(widths)
            ws[i] = w + step
            out.append(max(w * (self(set_widths(spec, ws, self.num_stages)) - base) / step, 1e-9))
        return out


# -- data split -----------------------------------------------------------------------------------------
def holdout_split(cfg: Config, na: dict, root: str) -> Dict[str, List[int]]:
    """The seeded hold-out / train split of the training set, written to (and re-read from) ``holdout.json``."""
    return shared_holdout_split(cfg, na['holdout'], osp.join(root, HOLDOUT), NAConfigError,
                                'network_adjustment.holdout')


def round_config(cfg: Config, na: dict, spec, split_file: str, load_from: Optional[str]) -> Config:
    """The config that trains the network of ``spec`` for one round (the split read from ``split_file``)."""
    rcfg = copy.deepcopy(cfg)  # Config.copy() is shallow: the rounds must not share (and alter) one dict
    rcfg.pop('network_adjustment', None)
    rcfg.model.backbone.spec = spec.to_dict()
    fit_input_widths(rcfg.model, spec)
    if load_from:  # the weights come from the remapped checkpoint
        rcfg.model.backbone.pop('init_cfg', None)
    use_holdout(rcfg, cfg, split_file, NAConfigError, 'network_adjustment')
    hooks = [h for h in (rcfg.get('custom_hooks') or []) if 'ChannelDropoutHook' not in str(h.get('type', ''))]
    drop = na['dropout']
    if drop is not None and drop['p'] > 0:
        hooks.append(dict(type='mmadapt.ChannelDropoutHook', **drop))
    rcfg.custom_hooks = hooks
    rcfg.load_from = load_from
    return rcfg


def _check_val_interval(cfg: Config) -> None:
    tc = cfg.get('train_cfg') or {}
    max_epochs, interval = tc.get('max_epochs'), tc.get('val_interval', 1)
    if max_epochs and interval and max_epochs % interval:
        raise NAConfigError(f'network_adjustment: train_cfg.val_interval {interval} does not divide max_epochs '
                            f'{max_epochs}; every round must end with a validation on the hold-out split (it picks '
                            'the best round)')


def _pick_metric(metrics: Dict, key: Optional[str]) -> Optional[str]:
    if key is not None:
        return key
    for k, v in metrics.items():
        if isinstance(v, (int, float)):
            return k
    return None


# -- one adjustment ----------------------------------------------------------------------------------
def adjustment_step(spec, init_widths: List[int], fur: List[float], t: int, na: dict, cost: RoundCost,
                    target: float, num_stages: int, name: str):
    """Lines 6-14 of Algorithm 1 on ``spec`` given its FUR: returns (next spec, record)."""
    adj = na['adjust']
    widths = get_widths(spec, num_stages)
    k = k_schedule(adj['k'], adj['k_decay'], t, len(widths))
    moved, info = adjust_widths(widths, init_widths, fur, k, adj['rate'], adj['rate_decay'], adj['min_width'])
    fitted, error, rinfo = rescale_widths(moved, lambda ws: cost(set_widths(spec, ws, num_stages)), target,
                                          na['cost']['tolerance'], adj['min_width'])
    nxt = set_widths(spec, fitted, num_stages, name=name)
    names = [v.name for v in width_vars(spec, num_stages)]
    record = dict(k=k, top=[names[i] for i in info['top']], bottom=[names[i] for i in info['bottom']],
                  adjusted=moved, rescaled=fitted, scale=rinfo['factor'], corrections=len(rinfo['moves']),
                  cost=cost(nxt), cost_error=error)
    return nxt, record


# -- the pipeline --------------------------------------------------------------------------------------
def run_pipeline(config, work_dir: Optional[str] = None, cfg_options: Optional[dict] = None,
                 launcher: str = 'none', resume: bool = False) -> dict:
    """Run Network Adjustment on ``config`` (see the module docstring); returns the summary."""
    from mmadapt.models.channel_dropout import attach_channel_dropout
    from .fur import compute_fur

    cfg, name, root = open_pipeline_config(config, work_dir, cfg_options, NAConfigError, 'network_adjustment')
    na = na_settings(cfg)
    _check_val_interval(cfg)
    seed_spec = load_spec(na['seed']['spec'])
    out_indices = cfg.model.backbone.get('out_indices')
    num_stages = len(seed_spec.stages) if out_indices is None else min(max(out_indices) + 1, len(seed_spec.stages))
    init_widths = get_widths(seed_spec, num_stages)  # c^(1), also checks the family supports width search
    cost = RoundCost(na, out_indices, num_stages)
    target = float(na['cost']['target'] or cost(seed_spec))
    floor = cost(set_widths(seed_spec, [na['adjust']['min_width']] * len(init_widths), num_stages))
    if floor > target * (1 + na['cost']['tolerance']):
        raise BudgetError(f"network_adjustment.cost.target {target:.6g} {cost.unit} cannot be met: with every width at "
                          f"the minimum {na['adjust']['min_width']} the network costs {floor:.6g}")
    holdout_split(cfg, na, root)  # written to holdout.json, which the rounds' datasets read
    if not resume:
        clear_done(root, [_round(t) for t in range(na['rounds'])])
    rounds: List[Dict] = []
    spec, prev_ckpt, prev_spec = seed_spec, None, None
    for t in range(na['rounds']):
        rname = _round(t)
        rdir = stage_dir(root, rname)
        done = read_done(root, rname) if resume else None
        if t > 0:
            spec = load_spec(osp.join(rdir, 'spec.yaml'))
        if done is not None:
            rounds.append(done['record'])
            prev_ckpt = resolve_stored_path(root, rname, 'checkpoint', done.get('checkpoint'), error=NAConfigError)
            prev_spec = spec
            print_log(f'network adjustment: {rname} is done, skipped (--resume)', logger='current')
            continue
        if is_main_process():
            os.makedirs(rdir, exist_ok=True)
            dump_spec(spec, osp.join(rdir, 'spec.yaml'))
        barrier()
        load_from = _initial_weights(na, t, spec, prev_spec, prev_ckpt, rdir, out_indices)
        rcfg = round_config(cfg, na, spec, osp.join(root, HOLDOUT), load_from)
        spec_cost = cost(spec)
        print_log(f'network adjustment: {rname}, {spec_cost:.6g} {cost.unit} (target {target:.6g}): '
                  f'{spec.describe()}', logger='current')
        runner, seconds = run_stage(rcfg, rdir, launcher, resume, f'{name}_{rname}')
        metrics = read_run_metrics(rdir, error=NAFileError)
        record = dict(round=t, spec=spec.describe(), widths=get_widths(spec, num_stages), cost=spec_cost,
                      cost_error=(spec_cost - target) / target, seconds=seconds, holdout=metrics['val'],
                      test=metrics['test'])
        if t + 1 < na['rounds']:
            backbone = unwrap(runner.model).backbone
            drops = attach_channel_dropout(backbone, (na['dropout'] or {}).get('mode', 'bernoulli'))
            sens = cost.sensitivities(spec)
            fur_cfg = na['fur']
            rates, clipped = drop_rates(sens, fur_cfg['base_rate'], fur_cfg['equal_flops'], fur_cfg['max_rate'],
                                        names=list(drops))
            fur = compute_fur(runner.model, runner.val_dataloader, drops, rates, fur_cfg['repeats'],
                              fur_cfg['seed'] + t, fur_cfg['metric'], fur_cfg['max_batches'])
            _check_identical(fur['fur'], rname)
            nxt, step = adjustment_step(spec, init_widths, fur['fur'], t, na, cost, target, num_stages,
                                        f'{seed_spec.name}_na{t + 1}')
            shared = [nxt.to_dict() if is_main_process() else None]
            broadcast_object_list(shared)  # every rank continues with rank 0's widths
            nxt = load_spec(shared[0])
            record.update(fur=fur['fur'], fur_base=fur['base'], sensitivities=sens, drop_rates=rates,
                          clipped=[list(drops)[i] for i in clipped], adjustment=step)
            if is_main_process():
                atomic_write_text(osp.join(rdir, 'fur.json'), json.dumps(
                    dict(names=list(drops), sensitivities=sens, drop_rates=rates, fur=fur['fur'], base=fur['base'],
                         scores=fur['scores'], metric=fur['metric'], samples=fur['samples'], adjustment=step),
                    indent=1) + '\n')
                nxt_dir = stage_dir(root, _round(t + 1))
                os.makedirs(nxt_dir, exist_ok=True)
                dump_spec(nxt, osp.join(nxt_dir, 'spec.yaml'))
            barrier()
            print_log(f"network adjustment: {rname} FUR computed; grow {step['top']}, shrink {step['bottom']}; "
                      f"next cost {step['cost']:.6g} {cost.unit} ({step['cost_error']:+.2%} of the target)",
                      logger='current')
        from mmadapt.utils.checkpoint import latest_checkpoint
        ckpt = latest_checkpoint(rdir)
        mark_done(root, rname, dict(record=record, checkpoint=stored_path(root, ckpt)))
        rounds.append(record)
        prev_ckpt, prev_spec = ckpt, spec
    return _write_summary(root, na, rounds, target, cost.unit, init_widths, seed_spec, num_stages)


def _check_identical(fur: List[float], rname: str) -> None:
    """Under DDP, check that every rank holds the same FUR (all-reduced sums); log it."""
    from mmengine.dist import all_gather_object, get_world_size
    world = get_world_size()
    if world == 1:
        return
    gathered = all_gather_object(list(fur))
    if any(g != gathered[0] for g in gathered):
        raise RuntimeError(f'network adjustment: the FUR of {rname} differs between ranks: {gathered}')
    print_log(f'network adjustment: FUR identical on {world} ranks after {rname}', logger='current')


def _initial_weights(na, t, spec, prev_spec, prev_ckpt, rdir, out_indices) -> Optional[str]:
    """``load_from`` of round ``t``: None (from scratch), or the remapped previous weights ('inherit')."""
    if na['init'] != 'inherit':
        if t == 0 and na['seed']['checkpoint']:
            print_log("network_adjustment.seed.checkpoint is not used with init='scratch' (every round trains from "
                      "scratch, as the paper does); set init='inherit' to start from it", logger='current',
                      level=logging.WARNING)
        return None
    from mmadapt.models.checkpoint import remap_checkpoint
    if t == 0:
        src, src_spec, source = na['seed']['checkpoint'], na['seed']['spec'], 'seed'
    else:
        src, src_spec, source = prev_ckpt, prev_spec, 'super'
    if not src:
        return None
    path = osp.join(rdir, 'init.pth')
    if is_main_process():
        result = remap_checkpoint(src, src_spec, spec, source=source, out_indices=out_indices)
        result.save(path)
        print_log(f'network adjustment: round {t} initialised from {src} (remapped):\n{result.report.summary()}',
                  logger='current')
    barrier()
    return path


def _draw_widths(path: str, names: List[str], rounds: List[Dict], best: int) -> None:
    """Bars of the widths, layer by layer: round 0 (the start), the best round and the last round."""
    from mmadapt.arch.draw import draw_width_bars
    shown = list(dict.fromkeys([0, best, len(rounds) - 1]))
    labels = {0: 'round 0 (start)', best: f'round {best} (best)', len(rounds) - 1: f'round {len(rounds) - 1} (last)'}
    if best == 0:
        labels[0] = 'round 0 (start, best)'
    draw_width_bars(path, names, [(labels[t], rounds[t]['widths']) for t in shown])


def _write_summary(root, na, rounds, target, unit, init_widths, seed_spec, num_stages) -> dict:
    key = _pick_metric(rounds[0]['holdout'], na['select_metric'])
    scored = [r for r in rounds if isinstance(r['holdout'].get(key), (int, float))]
    if not scored:
        raise NAConfigError(f'network_adjustment: no round reported the hold-out metric {key!r} (select_metric); '
                            f"reported: {sorted(rounds[0]['holdout'])}")
    best = max(scored, key=lambda r: (r['holdout'][key], -r['round']))
    names = [v.name for v in width_vars(seed_spec, num_stages)]
    summary = dict(target=target, unit=unit, select_metric=key, best_round=best['round'], widths_names=names,
                   initial_widths=init_widths, rounds=rounds)
    if is_main_process():
        atomic_write_text(osp.join(root, 'summary.json'), json.dumps(summary, indent=1) + '\n')
        spec = load_spec(osp.join(stage_dir(root, _round(best['round'])), 'spec.yaml'))
        dump_spec(spec, osp.join(root, 'best_spec.yaml'))
        test_key = next((k for k, v in best['test'].items() if isinstance(v, (int, float))), None)
        lines = [f'| round | cost ({unit}) | vs target | hold-out {key} | test {test_key or "-"} | widths |',
                 '| --- | --- | --- | --- | --- | --- |']
        for r in rounds:
            test = r['test'].get(test_key) if test_key else None
            mark = ' (best)' if r['round'] == best['round'] else ''
            lines.append(f"| {r['round']}{mark} | {r['cost']:.6g} | {r['cost_error']:+.2%} | "
                         f"{r['holdout'].get(key, float('nan')):.4f} | "
                         f"{'-' if test is None else f'{test:.4f}'} | {' '.join(map(str, r['widths']))} |")
        text = '\n'.join(lines) + (f"\n\ntarget {target:.6g} {unit}; widths in the order {' '.join(names)}\n"
                                   f"best round {best['round']}: {best['spec']} (best_spec.yaml)\n")
        atomic_write_text(osp.join(root, 'summary.md'), text)
        try:
            _draw_widths(osp.join(root, 'widths.png'), names, rounds, rounds.index(best))
        except Exception as e:  # noqa: BLE001  (a picture must not lose the results)
            print_log(f'could not draw widths.png: {e}', logger='current', level=logging.WARNING)
        print_log(f'Network Adjustment summary ({root}/summary.md):\n{text}', logger='current')
    barrier()
    return summary
