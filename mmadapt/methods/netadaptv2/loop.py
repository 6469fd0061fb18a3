"""The architecture optimisation of NetAdaptV2 as an mmengine loop: MCD (or SCD) over the
super-network's sub-networks, each scored on the held-out split with the super-network's weights.

``train_cfg = dict(type='mmadapt.MCDSearchLoop', budget=..., cost=dict(...), ...)`` on a runner whose
model has an elastic backbone loaded with the super-network (``load_from``), whose
``train_dataloader`` is the training set minus the held-out split (BN recalibration batches) and
whose ``val_dataloader`` / ``val_evaluator`` are the held-out split and the task's metric.

Scoring a sample: the backbone runs the sample's sub-network; with ``recal_batches > 0`` its BN
statistics are first recomputed on that many training batches (the notes' recommendation 10: the
super-network's statistics are those of the mixture of sub-networks) and the super-network's are put
back afterwards; then the held-out split is evaluated with the runner's evaluator (rank-locally: each
rank scores its share of the samples on the whole split; the scores are gathered). ``eval_mode=
'batched'`` (classifiers, no recalibration) scores several samples in one pass through the
per-sample door: the held-out batch is repeated once per sample and image ``(g, n)`` runs sample
``g`` (eval-mode BN: exactly each sample alone).

Files in the work dir: ``mcd_state.json`` after every iteration (resume continues from it exactly),
then ``trajectory.json`` (the best sample of every iteration: spec, score, resource),
``found_spec.yaml``, ``trajectory.png`` and, for a latency cost, the latency table.
"""
import copy
import json
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_gather_object, get_dist_info, is_main_process
from mmengine.logging import print_log
from mmengine.runner import BaseLoop
from torch.nn.modules.batchnorm import _BatchNorm

from mmadapt.arch import dump_spec
from mmadapt.engine.hooks.bn_recalibration import recompute_bn_statistics
from mmadapt.engine.launch import broadcast_object, check_identical_on_ranks, unwrap
from mmadapt.registry import LOOPS
from mmadapt.utils.fileio import atomic_write_text, read_json_object

from .cost import build_search_cost
from .mcd import MCD
from .space import NAv2Space

STATE = 'mcd_state.json'
EVAL_MODES = ('sequential', 'batched')


class NAv2SearchError(RuntimeError):
    """A search state that cannot be resumed; the message names the file and what differs."""


def first_metric(metrics: Dict[str, float]) -> Optional[str]:
    """The name of the first numeric metric (the evaluator's main one), or None."""
    return next((k for k, v in metrics.items() if isinstance(v, (int, float))), None)


def _metric_value(metrics: Dict[str, float], key: Optional[str]) -> float:
    key = first_metric(metrics) if key is None else key
    if key not in metrics:
        raise KeyError(f'MCDSearchLoop metric {key!r} is not among the evaluator\'s numeric metrics: {metrics}')
    return float(metrics[key])


@LOOPS.register_module()
class MCDSearchLoop(BaseLoop):
    """MCD from the max network to ``budget`` (see the module docstring and :class:`MCD`).

    Args:
        budget: the resource to reach (MAdds, or ms for a latency cost), or
        budget_ratio: the budget as a fraction of the max network's resource.
        cost: the resource (:func:`build_search_cost`).
        widths / kernels / divisor / elastic_stem / elastic_head: the space (:class:`NAv2Space`).
        num_samples / num_layers / r0 / decay / criterion / clamp: MCD's J, L, schedule and choice.
        recal_batches: training batches of BN recalibration per sample (0: the super-network's BN).
        eval_mode: ``'sequential'`` or ``'batched'`` (see the module docstring).
        eval_batch: images per pass in batched mode (samples x held-out batch).
        metric: the evaluator's metric that scores a sample (default: its first).
        seed: of MCD's draws. max_iterations: stop after this many iterations in this run (resume goes on).
        start: a genome to start from instead of the max network.
    """

    def __init__(self, runner, dataloader, cost: dict, budget: Optional[float] = None,
                 budget_ratio: Optional[float] = None, widths=9, kernels: Optional[Sequence[int]] = None,
                 divisor: int = 1, elastic_stem: bool = False, elastic_head: bool = True, num_samples: int = 200,
                 num_layers: int = 10, r0: float = 0.03, decay: float = 0.98, criterion: str = 'accuracy',
                 clamp: bool = True, recal_batches: int = 10, eval_mode: str = 'sequential', eval_batch: int = 256,
                 metric: Optional[str] = None, seed: int = 0, max_iterations: Optional[int] = None,
                 out_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__(runner, dataloader)
        from mmadapt.models.backbones.elastic import ElasticBackbone
        self.backbone = getattr(unwrap(runner.model), 'backbone', None)
        if not isinstance(self.backbone, ElasticBackbone):
            raise TypeError('MCDSearchLoop searches an elastic backbone (mmadapt.Elastic*) as model.backbone; got '
                            f'{type(self.backbone).__name__}')
        if (budget is None) == (budget_ratio is None):
            raise ValueError('MCDSearchLoop: give exactly one of budget and budget_ratio')
        if eval_mode not in EVAL_MODES:
            raise ValueError(f'MCDSearchLoop eval_mode must be one of {EVAL_MODES}, got {eval_mode!r}')
        if eval_mode == 'batched' and recal_batches:
            raise ValueError('MCDSearchLoop: eval_mode="batched" scores samples with the super-network\'s BN '
                             'statistics; set recal_batches=0 (recalibration is per sample)')
        self.space = NAv2Space(self.backbone.spec, widths, kernels, divisor, elastic_stem, elastic_head)
        self.cost = build_search_cost(cost, out_indices)
        self.budget, self.budget_ratio = budget, budget_ratio
        self.mcd_kw = dict(num_samples=num_samples, num_layers=num_layers, r0=r0, decay=decay, seed=seed,
                           criterion=criterion, clamp=clamp)
        self.recal_batches, self.eval_mode, self.eval_batch = int(recal_batches), eval_mode, int(eval_batch)
        self.metric, self.max_iterations = metric, max_iterations
        self.settings = dict(cost=cost, budget=budget, budget_ratio=budget_ratio, widths=widths,
                             kernels=list(kernels) if kernels else None, divisor=divisor, elastic_stem=elastic_stem,
                             elastic_head=elastic_head, **self.mcd_kw)
        self._iter = 0
        self.state: Optional[dict] = None

    @property
    def max_iters(self) -> int:
        return 1

    @property
    def iter(self) -> int:
        return self._iter

    @property
    def epoch(self) -> int:
        return 0

    @property
    def max_epochs(self) -> int:
        return 1

    # -- data -------------------------------------------------------------------------------------
    def _holdout_batches(self) -> List:
        loader = self.runner.val_dataloader
        ds, collate, bs = loader.dataset, loader.collate_fn, loader.batch_size or 1
        return [collate([ds[i] for i in range(k, min(k + bs, len(ds)))]) for k in range(0, len(ds), bs)]

    def _recal_batches(self) -> List:
        out = []
        g = torch.Generator().manual_seed(self.mcd_kw['seed'])
        ds, collate, bs = self.dataloader.dataset, self.dataloader.collate_fn, self.dataloader.batch_size or 1
        order = torch.randperm(len(ds), generator=g).tolist()
        for b in range(self.recal_batches):
            idx = order[(b * bs) % len(ds):][:bs] or order[:bs]
            out.append(collate([ds[i] for i in idx]))
        return out

    # -- scoring ----------------------------------------------------------------------------------
    def _norms(self) -> List[_BatchNorm]:
        return [m for m in self.backbone.modules() if isinstance(m, _BatchNorm)]

    def _recalibrate(self, model) -> None:
        self.backbone.train()
        try:
            recompute_bn_statistics(self._norms(), lambda b: self.backbone(model.data_preprocessor(b, False)['inputs']),
                                    self.recal)
        finally:
            self.backbone.eval()

    @torch.no_grad()
    def _evaluate(self, model, spec) -> float:
        self.backbone.set_subnet(spec)
        if self.recal_batches:
            self._recalibrate(model)
        evaluator = self.runner.val_evaluator
        for batch in self.holdout:
            outputs = model.val_step(batch)
            evaluator.process(data_samples=outputs, data_batch=batch)
        metrics = {}
        for m in evaluator.metrics:
            res = m.compute_metrics(m.results)
            m.results.clear()
            prefix = f'{m.prefix}/' if getattr(m, 'prefix', None) else ''
            metrics.update({f'{prefix}{k}': v for k, v in res.items()})
        if self.recal_batches:
            for buf, saved in zip(self._bn_buffers(), self.bn_state):
                buf.copy_(saved)
        return _metric_value(metrics, self.metric)

    def _bn_buffers(self) -> List[torch.Tensor]:
        return [b for m in self._norms() for b in (m.running_mean, m.running_var, m.num_batches_tracked)]

    @torch.no_grad()
    def _evaluate_batched(self, model, specs) -> List[float]:
        """Top-1 of several samples per pass (image (g, n) of the pass runs sample g)."""
        groups: Dict[tuple, List[int]] = {}
        for k, s in enumerate(specs):
            key = tuple(i.candidates[0].kernel for i in s.layers())
            groups.setdefault(key, []).append(k)
        correct = [0] * len(specs)
        total = 0
        for batch in self.holdout:
            data = model.data_preprocessor(batch, False)
            x, samples = data['inputs'], data['data_samples']
            labels = torch.cat([s.gt_label for s in samples]).to(x.device)
            n = x.shape[0]
            total += n
            per_pass = max(1, self.eval_batch // n)
            for members in groups.values():
                for c in range(0, len(members), per_pass):
                    chunk = members[c:c + per_pass]
                    self.backbone.set_sample_subnets([specs[k] for k in chunk for _ in range(n)])
                    logits = model(x.repeat(len(chunk), 1, 1, 1), mode='tensor')
                    if isinstance(logits, (list, tuple)):
                        logits = logits[-1]
                    hits = (logits.argmax(1).view(len(chunk), n) == labels[None]).sum(1)
                    for k, h in zip(chunk, hits.tolist()):
                        correct[k] += h
        self.backbone.clear_sample_subnets()
        return [100.0 * c / max(total, 1) for c in correct]

    def _score(self, genomes) -> List[float]:
        """Scores of ``genomes``, each rank scoring its share; every rank returns all of them."""
        model = unwrap(self.runner.model)
        model.eval()
        rank, world = get_dist_info()
        mine = list(range(rank, len(genomes), world))
        specs = [self.space.spec(genomes[k]) for k in mine]
        if self.eval_mode == 'batched':
            scores = self._evaluate_batched(model, specs)
        else:
            scores = [self._evaluate(model, s) for s in specs]
        self.backbone.set_subnet(None)
        pairs = list(zip(mine, scores))
        if world > 1:
            pairs = [p for part in all_gather_object(pairs) for p in part]
        out = dict(pairs)
        return [out[k] for k in range(len(genomes))]

    # -- the search ---------------------------------------------------------------------------------
    def _mcd(self) -> MCD:
        space, cost = self.space, self.cost
        r_init = None
        if is_main_process():
            r_init = (cost(space.spec(space.max_genome)), cost(space.spec(space.min_genome)))
        r_init = broadcast_object(r_init)
        budget = self.budget if self.budget is not None else self.budget_ratio * r_init[0]
        costs = {space.max_genome: r_init[0], space.min_genome: r_init[1]}
        # ranks other than 0 read only costs rank 0 sent them (a lazy latency table differs per rank)
        return MCD(space, cost, budget, costs=costs, **self.mcd_kw)

    def _state_path(self) -> str:
        return osp.join(self.runner.work_dir, STATE)

    def _load_state(self, mcd: MCD) -> dict:
        path = self._state_path()
        if not osp.isfile(path):
            return mcd.initial_state()
        try:
            saved = read_json_object(path)
        except (OSError, ValueError) as e:
            raise NAv2SearchError(f'{path}: cannot read the search state ({e}); delete it to search again') from None
        mine = json.loads(json.dumps(self.settings))
        if saved.get('settings') != mine:
            diff = sorted(k for k in set(mine) | set(saved.get('settings', {}))
                          if mine.get(k) != saved.get('settings', {}).get(k))
            raise NAv2SearchError(f'{path} was written by a search with other settings ({", ".join(diff)}); use another '
                                  'work dir, or delete it to search again')
        if saved.get('num_choices') != len(self.space):
            raise NAv2SearchError(f'{path} holds genomes of {saved.get("num_choices")} choices, this space has '
                                  f'{len(self.space)}: the network differs')
        state = saved['state']
        for e in state['trajectory']:  # the resource of every visited network, as the search saw it
            mcd._costs[tuple(e['genome'])] = e['cost']
        mcd._costs[tuple(state['genome'])] = state['cost']
        print_log(f'NetAdaptV2: resumed the search after iteration {state["iteration"]} from {path}', logger='current')
        return state

    def _save_state(self, mcd: MCD, state: dict) -> None:
        if is_main_process():
            atomic_write_text(self._state_path(), json.dumps(dict(settings=self.settings, num_choices=len(self.space),
                                                                  budget=mcd.budget, r_init=mcd.r_init,
                                                                  unit=self.cost.unit, state=state)) + '\n')
            self.cost.save_table()

    def run(self):
        self.runner.call_hook('before_train')
        self.holdout = self._holdout_batches()
        self.recal = self._recal_batches() if self.recal_batches else []
        self.bn_state = [b.clone() for b in self._bn_buffers()]
        mcd = self._mcd()
        self.mcd = mcd
        state = self._load_state(mcd)
        unit = self.cost.unit
        if state['iteration'] == 0 and state['score'] is None:
            state['score'] = self._score([tuple(state['genome'])])[0]
        self.start_score = state['trajectory'][0].get('parent_score') if state['trajectory'] else state['score']
        if state['iteration'] == 0:
            print_log(f'NetAdaptV2: start {state["cost"]:.6g} {unit} (held-out score {state["score"]:.4g}), budget '
                      f'{mcd.budget:.6g} {unit}; J={mcd.J} L={mcd.L} r0={mcd.r0} d={mcd.decay}', logger='current')
        n = 0
        while not mcd.done(state) and (self.max_iterations is None or n < self.max_iterations):
            t0 = time.time()
            i = state['iteration'] + 1
            target = mcd.target(i, state['cost'])
            proposal = None
            if is_main_process():
                samples = mcd.propose(i, tuple(state['genome']), target)
                proposal = (samples, [mcd.cost(s) for s in samples])
            samples, costs = broadcast_object(proposal)
            samples = [tuple(s) for s in samples]
            mcd._costs.update(zip(samples, costs))
            scores = self._score(samples) if samples else []
            state = mcd.advance(state, target, samples, scores)
            self._iter = state['iteration']
            self._save_state(mcd, state)
            n += 1
            print_log(f'NetAdaptV2 iteration {state["iteration"]}: target {target:.6g} {unit}, {len(samples)} samples '
                      f'({time.time() - t0:.1f} s), best {state["cost"]:.6g} {unit} score {state["score"]:.4g}',
                      logger='current')
        self.state = state
        check_identical_on_ranks([torch.tensor(state['genome'], dtype=torch.float64),
                                  torch.tensor([state['cost'], state['score']], dtype=torch.float64)],
                                 f'NetAdaptV2 search state (genome, resource, score) ... after iteration {state["iteration"]}')
        if mcd.done(state):
            self._write_results(mcd, state)
        self.backbone.set_subnet(None)
        self.runner.call_hook('after_train')
        return self.runner.model

    def _write_results(self, mcd: MCD, state: dict) -> None:
        if not is_main_process():
            return
        wd = self.runner.work_dir
        rows = [dict(iteration=e['iteration'], target=e['target'], cost=e['cost'], score=e['score'],
                     num_samples=e['num_samples'], spec=self.space.spec(e['genome']).to_dict())
                for e in state['trajectory']]
        seed_row = dict(iteration=0, target=None, cost=mcd.r_init, score=self.start_score, num_samples=1,
                        spec=self.space.spec(mcd.start).to_dict())
        atomic_write_text(osp.join(wd, 'trajectory.json'), json.dumps(dict(
            unit=self.cost.unit, budget=mcd.budget, start=seed_row, samples_evaluated=state['samples_evaluated'],
            iterations=rows), indent=1) + '\n')
        found = self.space.spec(state['genome'])
        dump_spec(copy.deepcopy(found), osp.join(wd, 'found_spec.yaml'))
        _plot_trajectory(osp.join(wd, 'trajectory.png'), state, self.cost.unit, mcd.budget)
        print_log(f'NetAdaptV2: budget met after {state["iteration"]} iterations and {state["samples_evaluated"]} '
                  f'samples: {state["cost"]:.6g} {self.cost.unit}; {osp.join(wd, "found_spec.yaml")}', logger='current')


def _plot_trajectory(path: str, state: dict, unit: str, budget: float) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for e in state['trajectory']:
        ax.scatter(e['costs'], e['scores'], s=6, color='0.75')
    ax.plot([e['cost'] for e in state['trajectory']], [e['score'] for e in state['trajectory']], 'o-', ms=3,
            label='best sample per iteration')
    ax.axvline(budget, color='r', ls='--', label='budget')
    ax.set_xlabel(unit)
    ax.set_ylabel('held-out score')
    ax.legend()
    ax.set_title('NetAdaptV2: MCD trajectory')
    fig.tight_layout()
    from mmadapt.utils.fileio import save_figure
    save_figure(fig, path)
