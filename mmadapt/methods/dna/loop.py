"""DNA's three-phase search (Algorithm 1) as an mmengine training loop, ``mmadapt.DNALoop``.

The model's backbone is an elastic backbone (``mmadapt.ElasticMobileNetV2`` / ``ElasticResNet`` /
``ElasticMobileNetV1``) built at the *bank* spec (:func:`.space.bank_spec`): the largest network the
search may reach, so every weight the search ever uses lives in one set of parameters and a round
only changes which sub-network runs. The training set is split once (seeded) into a part for the
weights and a part for the architecture parameters. The loop's "epochs" are phases:

* warm-up (``warmup_epochs`` > 0): phase 1 alone on the seed's space;
* every round ``i``: **phase 1** (``phase1_epochs`` of the weight split): each step trains ``M``
  sub-networks drawn uniformly from the round's space, the full (extended) network and the smallest
  one, their cross-entropy losses summed (Eq. 1) with the gradients accumulated into one optimizer
  step; **phase 2** (``phase2_epochs`` of the architecture split): the weights are frozen (BN uses
  batch statistics and keeps its running ones), the extended network runs with every unit's channels
  multiplied by their Markov marginals (Eq. 4), and Adam trains alpha on
  ``task loss + lambda_F * loss_F`` (Eq. 8); **phase 3**: every chain follows its most probable
  transitions (Sec. 3.4) and N_{i+1} is the new centre; in the last round the target network is
  derived instead (``derive``: the expected network of Sec. 3.5 by default).

Sub-networks are drawn from a generator seeded by (seed, iteration), so every DDP rank trains the same
ones; alpha gradients are averaged over ranks and the loop checks after every phase 2 that all ranks
hold identical alpha. A checkpoint is written after every phase and carries the round, the centre,
alpha and its optimizer, so ``--resume`` continues exactly, mid-round included. Every round writes
``rounds/round_<i>.yaml``, ``rounds/round_<i>.png`` (widths, seed beside current) and ``rounds.json``
(expected and counted MAdds) to the work dir.
"""
import contextlib
import json
import os.path as osp
import random
from functools import partial
from typing import Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import DATASETS
from mmengine.runner import EpochBasedTrainLoop
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from mmadapt.arch import dump_spec, load_spec
from mmadapt.arch.widths import width_vars
from mmadapt.datasets.subset import SplitDataset, seeded_split
from mmadapt.engine.launch import check_identical_on_ranks, search_loop_backbone, unwrap
from mmadapt.engine.sandwich import accumulate_step
from mmadapt.registry import HOOKS, LOOPS
from mmadapt.utils.fileio import atomic_write_text

from .space import DNASpace, UnitGroups, bank_spec, max_blocks_of, unit_groups, width_options

STATE_KEY = 'mmadapt_dna'
BUDGET_LOSSES = ('log', 'log_l1')
DERIVES = ('expected', 'argmax')


def budget_loss(expected: torch.Tensor, target: float, kind: str = 'log') -> torch.Tensor:
    """loss_F of Eq. 8 on MAdds in millions.

    * ``'log'`` (the paper): ``log(E - T + eps)`` above the budget ``T``, 0 at or below it. The
      paper's ``log|E - T|`` goes to minus infinity as E reaches T from above (its gradient
      ``1 / (E - T)`` to infinity); ``eps = 1e-3 T`` bounds both (notes A12).
    * ``'log_l1'`` (DMCP's): two-sided with a dead zone ``[0.95 T, T]``: ``log(0.95 T - E + eps)``
      below it, ``log(E - 0.95 T + eps)`` above it, so an expectation far below the budget is pulled up.
    """
    if kind not in BUDGET_LOSSES:
        raise ValueError(f'budget loss must be one of {BUDGET_LOSSES}, got {kind!r}')
    e, t = expected / 1e6, float(target) / 1e6
    eps = 1e-3 * t
    if kind == 'log':
        return torch.log(e - t + eps) if float(e.detach()) > t else e * 0.0
    low = 0.95 * t
    if float(e.detach()) < low:
        return torch.log(low - e + eps)
    return torch.log(e - low + eps) if float(e.detach()) >= t else e * 0.0


@contextlib.contextmanager
def frozen_bn_stats(module: torch.nn.Module):
    """BN layers normalise with batch statistics but their running statistics stay as they are."""
    saved = [(m, {k: b.clone() for k, b in m._buffers.items() if b is not None})
             for m in module.modules() if isinstance(m, _BatchNorm)]
    try:
        yield
    finally:
        for m, bufs in saved:
            for k, b in bufs.items():
                m._buffers[k].copy_(b)


@contextlib.contextmanager
def frozen_weights(module: torch.nn.Module):
    """No gradient for the module's parameters (phase 2 trains alpha only)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def draw_widths(path: str, spec, seed_spec, title: str, out_indices: Optional[Sequence[int]] = None) -> None:
    """Bars of every unit's width, the seed's beside the current network's (blocks the seed lacks: 0)."""
    from mmadapt.arch.draw import draw_width_bars
    now = {v.name: v.value for v in width_vars(spec, **width_options(spec, out_indices))}
    seed = {v.name: v.value for v in width_vars(seed_spec, **width_options(seed_spec, out_indices))}
    names = list(dict.fromkeys(list(seed) + list(now)))
    order = {n: i for i, n in enumerate(names)}
    names.sort(key=lambda n: (0, 0, 0) if n == 'stem' else (9, 0, 0) if n == 'head' else
               (1, int(n.split('.')[0][1:]), order[n]))
    draw_width_bars(path, names, [('seed', [seed.get(n, 0) for n in names]),
                                  ('current', [now.get(n, 0) for n in names])], title)


def sandwich_step(model, backbone, space: DNASpace, num_subnets: int, batch, optim_wrapper,
                  generator: torch.Generator) -> Dict[str, torch.Tensor]:
    """One weight step of phase 1 (Eq. 1): ``num_subnets`` sub-networks drawn uniformly from ``space``
    with ``generator``, the full (extended) network and the smallest one; their losses' gradients are
    accumulated and the optimizer steps once. ``model`` may be a DDP wrapper."""
    subs = [space.spec_of(space.paths_of('random', generator)) for _ in range(num_subnets)]
    subs += [space.extended, space.smallest]
    names = [f'loss_rand{k}' for k in range(num_subnets)] + ['loss_full', 'loss_min']
    return accumulate_step(model, batch, optim_wrapper, [partial(backbone.set_subnet, sub) for sub in subs], names)


def alpha_step(module, backbone, space: DNASpace, alphas: Dict[str, torch.Tensor], optimizer, batch, budget: float,
               lam: float, kind: str = 'log') -> Dict[str, float]:
    """One step of phase 2: the extended network with every unit gated by its marginals (Eq. 4),
    ``task loss + lam * loss_F`` (Eq. 8); the weights and the BN statistics stay as they are, alpha's
    gradients are averaged over DDP ranks. ``module`` is the task model itself (not a DDP wrapper)."""
    from mmadapt.models.backbones.elastic import ChannelScale
    params = [alphas[c.name] for c in space.chains]
    backbone.set_subnet(space.extended)
    gate = backbone.add_modulation(ChannelScale(space.gate_scales(alphas)))
    # the running statistics are restored after the backward pass (it reads the saved versions)
    with frozen_bn_stats(module), frozen_weights(module):
        try:
            data = module.data_preprocessor(batch, True)
            losses = module._run_forward(data, mode='loss')
            task, _ = module.parse_losses(losses)
        finally:
            backbone.remove_modulation(gate)
        expected = space.expected_cost(alphas)
        lf = budget_loss(expected, budget, kind)
        total = task + lam * lf.float()
        grads = torch.autograd.grad(total, params, allow_unused=True) if params else []
    if params:
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        _, world = get_dist_info()
        if world > 1:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= world
            grads = [g.view_as(p) for g, p in zip(torch.split(flat, [g.numel() for g in grads]), params)]
        for p, g in zip(params, grads):
            p.grad = g.detach().clone()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return dict(task=float(task.detach()), loss_F=float(lf.detach()), expected=float(expected.detach()))


@LOOPS.register_module()
class DNALoop(EpochBasedTrainLoop):
    """DNA's search (see the module docstring).

    Args:
        runner, dataloader: as ``EpochBasedTrainLoop`` (the dataloader config is split in two).
        seed_spec: the seed network N_0 (a derived spec); the backbone must be built at its bank spec.
        rounds: rounds of the three phases (25 in the paper).
        phase1_epochs / phase2_epochs: passes over the weight / architecture split per round (1.5 / 0.5);
            ``phase1_epochs=0`` runs phase 2 alone (the recoverability experiment, Sec. 4.2.3).
        warmup_epochs: phase 1 alone before the first round (15 in the paper).
        num_subnets: M random sub-networks per step besides the full and the smallest (2).
        groups / max_groups: channel groups per unit in the seed (K = 10) and the most a unit may reach.
        max_blocks: the most blocks of every stage (list), or an int of blocks added at most per stage.
        width / depth: the dimensions searched.
        budget: the MAdds target F_T (a number), or ``budget_ratio`` times the seed's MAdds.
        lam: lambda_F (0.1); ``budget_loss``: ``'log'`` (the paper) or ``'log_l1'``.
        arch_optim: optimizer of alpha (the paper: Adam, lr 0.01).
        arch_ratio: share of the training set for phase 2.
        alpha_std: alpha initialised N(0, std) (0: uniform transitions).
        carry_alphas: a chain keeps its alpha from one round to the next where its shape allows.
        derive: the last round's network, ``'expected'`` (Sec. 3.5) or ``'argmax'``.
        lr_min_ratio: the weights' learning rate is constant in the warm-up, then a cosine over the rounds'
            phase-1 steps down to this fraction (the paper: 0.2 -> 0.02); None keeps the config's
            ``param_scheduler`` (give it by iteration: the loop's epochs are phases).
        input_size / num_classes / out_indices: of the cost (classifier FC counted when num_classes).
        seed / split_seed: of the sub-network draws and of the split (default: the runner's seed).
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], seed_spec, rounds: int, input_size: Sequence[int],
                 phase1_epochs: float = 1.5, phase2_epochs: float = 0.5, warmup_epochs: float = 0.0,
                 num_subnets: int = 2, groups: int = 10, max_groups: int = 20,
                 max_blocks: Union[int, Sequence[int]] = 2, width: bool = True, depth: bool = True,
                 budget: Optional[float] = None, budget_ratio: Optional[float] = None, lam: float = 0.1,
                 budget_loss: str = 'log', arch_optim: Optional[dict] = None, arch_ratio: float = 0.25,
                 alpha_std: float = 0.0, carry_alphas: bool = True, derive: str = 'expected',
                 num_classes: Optional[int] = None, out_indices: Optional[Sequence[int]] = None,
                 lr_min_ratio: Optional[float] = 0.1, seed: Optional[int] = None, split_seed: Optional[int] = None,
                 **kwargs):
        from mmadapt.models.backbones.elastic import ElasticBackbone
        backbone = search_loop_backbone(runner, dataloader, ElasticBackbone, 'mmadapt.DNALoop',
                                        'an elastic backbone (mmadapt.ElasticMobileNetV2, ElasticResNet or '
                                        'ElasticMobileNetV1)')
        if budget_loss not in BUDGET_LOSSES:
            raise ValueError(f'budget_loss must be one of {BUDGET_LOSSES}, got {budget_loss!r}')
        if derive not in DERIVES:
            raise ValueError(f'derive must be one of {DERIVES}, got {derive!r}')
        if int(rounds) < 1 or num_subnets < 0 or phase1_epochs < 0 or phase2_epochs <= 0 or warmup_epochs < 0:
            raise ValueError('mmadapt.DNALoop needs rounds >= 1, num_subnets >= 0, phase1_epochs >= 0, '
                             f'phase2_epochs > 0 and warmup_epochs >= 0; got {rounds}, {num_subnets}, '
                             f'{phase1_epochs}, {phase2_epochs}, {warmup_epochs}')
        self.backbone = backbone
        self.seed_spec = load_spec(seed_spec)
        self.rounds, self.num_subnets = int(rounds), int(num_subnets)
        self.phase1_epochs, self.phase2_epochs, self.warmup_epochs = phase1_epochs, phase2_epochs, warmup_epochs
        self.lam, self.budget_kind, self.derive = float(lam), budget_loss, derive
        self.width, self.depth, self.alpha_std, self.carry_alphas = width, depth, float(alpha_std), carry_alphas
        self.input_size, self.num_classes = tuple(input_size), num_classes
        self.out_indices = tuple(out_indices) if out_indices is not None else tuple(backbone.out_indices)
        self.num_stages = width_options(self.seed_spec, self.out_indices)['num_stages']
        seed_groups = unit_groups(self.seed_spec, groups, max_groups, self.out_indices)
        self.max_blocks = max_blocks_of(self.seed_spec, max_blocks, depth)
        bank, self.groups = bank_spec(self.seed_spec, seed_groups, self.max_blocks, self.out_indices)
        n = self.num_stages
        if bank.to_dict()['stages'][:n] != backbone.spec.to_dict()['stages'][:n] or \
                bank.stem != backbone.spec.stem:
            raise ValueError(f'model.backbone.spec is not the DNA bank of the seed {self.seed_spec.name!r} (groups '
                             f'{groups}, max_groups {max_groups}, max_blocks {self.max_blocks}); build it with '
                             'mmadapt.methods.dna.bank_spec, or run the DNA pipeline (tools/train.py with a `dna` dict)')
        runner_seed = runner.seed if runner.seed is not None else 0
        self.seed = runner_seed if seed is None else int(seed)
        self.split_seed = self.seed if split_seed is None else int(split_seed)
        self.space = self._space(self.seed_spec)
        self.seed_cost = self.space.cost_of(self.seed_spec)
        if budget is None and budget_ratio is None:
            raise ValueError('mmadapt.DNALoop needs a budget (MAdds) or a budget_ratio (of the seed\'s MAdds)')
        self.budget = float(budget) if budget is not None else float(budget_ratio) * self.seed_cost
        self.alphas = self.space.init_alphas(self.alpha_std, torch.Generator().manual_seed(self.seed))
        self.arch_optim_cfg = dict(arch_optim or dict(type='Adam', lr=0.01, betas=(0.9, 0.999), weight_decay=0.0))
        self.arch_optimizer = self._arch_optimizer()

        cfg = dict(dataloader)
        dataset = cfg['dataset']
        dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        n = len(dataset)
        n_arch = int(round(n * arch_ratio))
        if not 0 < n_arch < n:
            raise ValueError(f'arch_ratio {arch_ratio} of {n} training items leaves an empty part')
        self.weight_indices, self.arch_indices = seeded_split(n, n_arch, self.split_seed)
        max_epochs = (1 if warmup_epochs > 0 else 0) + 2 * self.rounds
        super().__init__(runner, dict(cfg, dataset=SplitDataset(dataset, self.weight_indices)), max_epochs,
                         val_begin=max_epochs + 1, val_interval=max_epochs + 1, **kwargs)
        self.arch_dataloader = runner.build_dataloader(dict(cfg, dataset=SplitDataset(dataset, self.arch_indices)),
                                                       seed=runner_seed + 1)
        self.phase1_iters = int(round(phase1_epochs * len(self.dataloader)))  # 0: phase 2 alone (Sec. 4.2.3)
        self.phase2_iters = max(1, int(round(phase2_epochs * len(self.arch_dataloader))))
        self.warmup_iters = int(round(warmup_epochs * len(self.dataloader)))
        self._max_iters = self.warmup_iters + self.rounds * self.phase1_iters
        self.history: List[Dict] = []
        self.final: Optional[dict] = None
        if lr_min_ratio is not None and self._max_iters > self.warmup_iters:  # constant warm-up, cosine after
            runner.param_schedulers = [dict(type='CosineAnnealingLR', by_epoch=False, begin=self.warmup_iters,
                                            end=self._max_iters, eta_min_ratio=float(lr_min_ratio))]
        runner.register_hook(DNAStateHook(), priority='VERY_LOW')
        _, world = get_dist_info()
        print_log(f'mmadapt.DNALoop: {len(self.weight_indices)} items for weights, {len(self.arch_indices)} for alpha; '
                  f'{self.rounds} rounds of {self.phase1_iters} weight steps ({self.num_subnets} random + full + '
                  f'smallest sub-network each) and {self.phase2_iters} alpha steps; warm-up {self.warmup_iters} '
                  f'steps; {"width" if width else ""}{" + " if width and depth else ""}{"depth" if depth else ""}; '
                  f'{len(self.space.chains)} chains; seed {self.seed_cost / 1e6:.2f}M MAdds, budget '
                  f'{self.budget / 1e6:.2f}M ({self.budget / self.seed_cost:.0%}) at {self.input_size[0]}x'
                  f'{self.input_size[1]}; world size {world}', logger='current')

    # -- pieces ---------------------------------------------------------------------------------------
    def _space(self, center) -> DNASpace:
        space = DNASpace(center, self.groups, self.max_blocks, self.width, self.depth, self.input_size,
                         self.num_classes, self.out_indices)
        self.groups = space.groups
        return space

    def _arch_optimizer(self):
        cfg = dict(self.arch_optim_cfg)
        optim_cls = getattr(torch.optim, cfg.pop('type'), None)
        if optim_cls is None:
            raise ValueError(f"arch_optim type {self.arch_optim_cfg['type']!r} is not a torch.optim optimizer")
        params = list(self.alphas.values())
        # a space whose every unit is fixed has no parameter: keep a dummy so the optimizer builds
        return optim_cls(params or [torch.zeros(1, requires_grad=True)], **cfg)

    @property
    def max_iters(self) -> int:
        return self._max_iters

    def phase(self, epoch: Optional[int] = None):
        """(round, phase) of a loop epoch: (0, 'warmup'), (i, 1) or (i, 2)."""
        e = self._epoch if epoch is None else epoch
        if self.warmup_epochs > 0:
            if e == 0:
                return 0, 'warmup'
            e -= 1
        return e // 2 + 1, 1 if e % 2 == 0 else 2

    def _reseed(self) -> None:
        s = (self.seed * 7919 + self._epoch) % (2**31)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)

    def _batches(self, loader, n: int) -> Iterator:
        """``n`` batches of ``loader``: passes seeded by (epoch, pass), so a phase resumes exactly."""
        p = 0
        while n > 0:
            if hasattr(loader.sampler, 'set_epoch'):
                loader.sampler.set_epoch(self._epoch * 1000 + p)
            for batch in loader:
                yield batch
                n -= 1
                if n == 0:
                    return
            p += 1

    # -- the loop -------------------------------------------------------------------------------------
    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        self._reseed()
        rnd, phase = self.phase()
        if phase == 2:
            self.run_phase2(rnd)
        else:
            n = self.warmup_iters if phase == 'warmup' else self.phase1_iters
            for idx, batch in enumerate(self._batches(self.dataloader, n)):
                self.runner.call_hook('before_train_iter', batch_idx=idx, data_batch=batch)
                outputs = self.weight_step(batch)
                self.runner.call_hook('after_train_iter', batch_idx=idx, data_batch=batch, outputs=outputs)
                self._iter += 1
        self.backbone.set_subnet(self.space.center)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def weight_step(self, batch) -> Dict[str, torch.Tensor]:
        """Phase 1 (Eq. 1): M random sub-networks, the full and the smallest, gradients accumulated."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + self._iter)
        return sandwich_step(self.runner.model, self.backbone, self.space, self.num_subnets, batch,
                             self.runner.optim_wrapper, gen)

    def run_phase2(self, rnd: int) -> None:
        """Phase 2: alpha only, on the architecture split; then phase 3."""
        module = unwrap(self.runner.model)
        values = []
        with torch.no_grad():
            self._start_expected = float(self.space.expected_cost(self.alphas))
        for idx, batch in enumerate(self._batches(self.arch_dataloader, self.phase2_iters)):
            values.append(self.arch_step(module, batch))
            if (idx + 1) % max(1, self.phase2_iters // 4) == 0 or idx + 1 == self.phase2_iters:
                v = values[-1]
                print_log(f'DNA round {rnd} phase 2 [{idx + 1}/{self.phase2_iters}] task loss {v["task"]:.4f} '
                          f'loss_F {v["loss_F"]:.4f} E[MAdds] {v["expected"] / 1e6:.3f}M (budget '
                          f'{self.budget / 1e6:.3f}M)', logger='current')
        self._check_ranks(rnd)
        self.phase3(rnd, values)

    def arch_step(self, module, batch) -> Dict[str, float]:
        """One step of alpha: the gated extended network, ``task + lambda_F * loss_F`` (Eq. 4, 8)."""
        return alpha_step(module, self.backbone, self.space, self.alphas, self.arch_optimizer, batch, self.budget,
                          self.lam, self.budget_kind)

    def _check_ranks(self, rnd: int) -> None:
        check_identical_on_ranks(self.alphas.values(), f'DNA architecture parameters ... after round {rnd}')

    def phase3(self, rnd: int, values: List[Dict]) -> None:
        """Phase 3 (Sec. 3.4): the argmax adaption; in the last round the target network (Sec. 3.5)."""
        space = self.space
        with torch.no_grad():
            expected = float(space.expected_cost(self.alphas))
        last = rnd == self.rounds
        if last and self.derive == 'expected':
            new = space.expected_network(self.alphas, name=f'{self.seed_spec.name}_dna')
        else:
            new = space.adapt(self.alphas, name=f'{self.seed_spec.name}_dna' if last else self.seed_spec.name)
        cost = space.cost_of(new)
        moves = _moves(space.center, new, self.out_indices)
        record = dict(round=rnd, expected_madds_start=self._start_expected, expected_madds=expected, madds=cost, center_madds=space.cost_of(space.center),
                      budget=self.budget, task_loss=float(np.mean([v['task'] for v in values])),
                      spec=new.to_dict(), moves=moves, derive=(self.derive if last else 'argmax'))
        self.history.append(record)
        if last:
            self.final = dict(space_center=space.center.to_dict(), groups={k: g.to_dict() for k, g in self.groups.items()},
                              alphas={k: a.detach().tolist() for k, a in self.alphas.items()}, target=new.to_dict())
        print_log(f'DNA round {rnd}: E[MAdds] {expected / 1e6:.3f}M, '
                  f'{"target" if last else "next"} network {cost / 1e6:.3f}M MAdds (budget {self.budget / 1e6:.3f}M, '
                  f'seed {self.seed_cost / 1e6:.3f}M); {moves["summary"]}', logger='current')
        self._write_round(rnd, new, record)
        if not last:
            old = self.alphas
            self.space = self._space(new)
            fresh = self.space.init_alphas(self.alpha_std, torch.Generator().manual_seed(self.seed + rnd))
            if self.carry_alphas:
                for name, a in fresh.items():
                    if name in old and old[name].shape == a.shape:
                        fresh[name] = old[name].detach().clone().requires_grad_(True)
            self.alphas = fresh
            self.arch_optimizer = self._arch_optimizer()  # Adam's state restarts with the new space

    def _write_round(self, rnd: int, spec, record: Dict) -> None:
        if not is_main_process():
            return
        work_dir = self.runner.work_dir
        out = osp.join(work_dir, 'rounds')
        dump_spec(spec, osp.join(out, f'round_{rnd}.yaml'))
        draw_widths(osp.join(out, f'round_{rnd}.png'), spec, self.seed_spec,
                    f'DNA round {rnd}: {record["madds"] / 1e6:.2f}M MAdds (seed {self.seed_cost / 1e6:.2f}M, budget '
                    f'{self.budget / 1e6:.2f}M)', self.out_indices)
        atomic_write_text(osp.join(work_dir, 'rounds.json'), json.dumps(dict(
            seed_madds=self.seed_cost, budget=self.budget, rounds=self.history, final=self.final), indent=1))

    # -- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return dict(center=self.space.center.to_dict(), groups={k: g.to_dict() for k, g in self.groups.items()},
                    alphas={k: a.detach().clone() for k, a in self.alphas.items()},
                    arch_optimizer=self.arch_optimizer.state_dict(), history=self.history, final=self.final,
                    weight_indices=self.weight_indices, arch_indices=self.arch_indices, seed=self.seed,
                    budget=self.budget)

    def load_state_dict(self, state: dict) -> None:
        if state['weight_indices'] != self.weight_indices or state['arch_indices'] != self.arch_indices:
            raise RuntimeError('the checkpoint was searched with a different weight / alpha split of the training set '
                               '(different data, arch_ratio or split_seed); resume refused')
        self.groups = {k: UnitGroups(**g) for k, g in state['groups'].items()}
        self.space = self._space(state['center'])
        self.alphas = {k: v.clone().requires_grad_(True) for k, v in state['alphas'].items()}
        self.arch_optimizer = self._arch_optimizer()
        self.arch_optimizer.load_state_dict(state['arch_optimizer'])
        self.history, self.final = list(state['history']), state['final']
        self.seed, self.budget = state['seed'], state['budget']
        self.backbone.set_subnet(self.space.center)


def _moves(old, new, out_indices) -> Dict:
    """What phase 3 changed: units grown / shrunk, stages deeper / shallower."""
    a = {v.name: v.value for v in width_vars(old, **width_options(old, out_indices))}
    b = {v.name: v.value for v in width_vars(new, **width_options(new, out_indices))}
    num_stages = width_options(old, out_indices)['num_stages']
    grown = sorted(k for k in b if k in a and b[k] > a[k])
    shrunk = sorted(k for k in b if k in a and b[k] < a[k])
    deeper = [s for s in range(num_stages) if new.stages[s].depth > old.stages[s].depth]
    shallower = [s for s in range(num_stages) if new.stages[s].depth < old.stages[s].depth]
    summary = (f'{len(grown)} units wider, {len(shrunk)} narrower, {len(a) - len(grown) - len(shrunk)} kept; '
               f'stages deeper {deeper}, shallower {shallower}')
    return dict(grown=grown, shrunk=shrunk, deeper=deeper, shallower=shallower, summary=summary)


@HOOKS.register_module()
class DNAStateHook(Hook):
    """Saves and restores :class:`DNALoop`'s state in checkpoints (and the centre spec in the meta)."""
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = runner.train_loop
        if isinstance(loop, DNALoop):
            checkpoint[STATE_KEY] = loop.state_dict()
            checkpoint.setdefault('meta', {})['arch_spec'] = loop.backbone.spec.to_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = runner._train_loop
        if isinstance(loop, DNALoop) and STATE_KEY in checkpoint:
            loop.load_state_dict(checkpoint[STATE_KEY])
