"""FNA++ architecture adaptation (Sec. 3.2.2) as an mmengine training loop.

``train_cfg=dict(type='mmadapt.ArchAdaptLoop', max_epochs=..., warmup_epochs=..., lam=...)`` with a
super-backbone (``mmadapt.SuperMobileNetV2`` / ``mmadapt.SuperResNet``) as ``model.backbone``:

* the training set is split once, deterministically, into a part for the operation weights and a
  part for the architecture parameters (``arch_ratio``; the paper: half/half on COCO, 20% on MPII);
* warm-up epochs train the weights only, on one path drawn uniformly per iteration;
* then every iteration trains the weights on one path drawn from ``softmax(alpha)``, and every
  ``weight_steps`` iterations one step of the architecture parameters follows, on the mixture of
  all candidates (Eq. 7) with ``loss = task_loss + lam * lg(expected MAdds)`` (Eq. 8, 9) in their
  own optimizer (``arch_optim``, Adam by default);
* with ``cost_target`` (beyond the paper, which compares at equal MAdds by choosing lambda) the cost
  term is two-sided, ``lam * |lg(E[MAdds]) - lg(target)|``: it pulls the expected MAdds to a budget
  from either side, e.g. ``cost_target='mobilenet_v2'`` (or ``'seed'`` in the FNA++ pipeline) for the
  seed's own MAdds in the space;
* BN statistics and affine parameters are trained throughout (Sec. 5.1);
* the derived spec (argmax, Sec. 3.2.2; with a ``cost_target`` the most probable path within
  ``cost_tolerance`` of it) is written to the work dir every epoch; at the end, a picture
  of it and the search curves (task loss and sampled MAdds per iteration, Fig. 9).

Paths are drawn from a generator seeded by (seed, iteration), so every DDP rank samples the same
path; architecture gradients are averaged over ranks, and the loop checks every epoch that all
ranks hold identical architecture parameters. The split, the architecture optimizer and the curves
are saved in checkpoints, and each epoch reseeds the global RNGs from (seed, epoch), so a resumed
search continues exactly as an uninterrupted one.
"""
import json
import logging
import math
import os
import os.path as osp
import random
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import DATASETS
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import DataLoader

from mmadapt.datasets.subset import SplitDataset, seeded_split
from mmadapt.registry import HOOKS, LOOPS
from mmadapt.utils.fileio import atomic_write, atomic_write_text

from ..launch import check_identical_on_ranks, search_loop_backbone, unwrap

STATE_KEY = 'mmadapt_arch_adapt'


def split_indices(n: int, arch_ratio: float, seed: int):
    """Deterministic split of ``range(n)``: (weight indices, architecture indices), both sorted."""
    if not 0 < arch_ratio < 1:
        raise ValueError(f'arch_ratio must be in (0, 1), got {arch_ratio}')
    n_arch = int(round(n * arch_ratio))
    if n_arch < 1 or n_arch >= n:
        raise ValueError(f'arch_ratio {arch_ratio} of {n} training items leaves an empty part')
    return seeded_split(n, n_arch, seed)


@LOOPS.register_module()
class ArchAdaptLoop(EpochBasedTrainLoop):
    """Architecture adaptation of FNA++ (see the module docstring).

    Args:
        runner, dataloader, max_epochs, val_begin, val_interval: as ``EpochBasedTrainLoop``; the
            dataloader config is split into a weight and an architecture part.
        warmup_epochs: epochs that train the weights only (uniform single paths).
        lam: lambda of Eq. 8 (``lam * lg(cost)``; 0 searches without a cost term).
        cost_target: None (Eq. 8 as the paper), or a budget of backbone MAdds at ``cost_input_size``:
            a number, or a derived spec (name, file or dict) of the search space whose MAdds are the
            budget (e.g. the seed's architecture); the cost term becomes ``lam * |lg(E) - lg(target)|``.
            The FNA++ pipeline also takes ``'seed'``: the seed's architecture (``fna.seed.spec``).
            The derived architecture is then the most probable path within ``cost_tolerance``
            (relative) of the target, not the plain argmax (which can miss it by 10% and more).
        arch_optim: optimizer of the architecture parameters, e.g. ``dict(type='Adam', lr=3e-3)``.
        arch_ratio: share of the training set used for the architecture parameters.
        weight_steps: weight steps per architecture step.
        sampling: ``'softmax'`` (draw paths from the architecture distribution after warm-up) or
            ``'uniform'`` (always uniform).
        cost_input_size: (H, W) at which MAdds are counted (default: the backbone's ``input_size``).
        split_seed / seed: seeds of the split and of the path draws (default: the runner's seed).
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], max_epochs: int, warmup_epochs: int = 0,
                 lam: float = 0.0, arch_optim: Optional[dict] = None, arch_ratio: float = 0.5,
                 weight_steps: int = 1, sampling: str = 'softmax',
                 cost_input_size: Optional[Sequence[int]] = None, split_seed: Optional[int] = None,
                 seed: Optional[int] = None, val_begin: int = 1, val_interval: int = 1,
                 cost_target: Union[None, float, str, dict] = None, cost_tolerance: float = 0.02, **kwargs):
        from mmadapt.models.backbones import SuperBackboneMixin
        backbone = search_loop_backbone(runner, dataloader, SuperBackboneMixin, 'mmadapt.ArchAdaptLoop',
                                        'a super-backbone (mmadapt.SuperMobileNetV2 or mmadapt.SuperResNet)')
        if sampling not in ('softmax', 'uniform'):
            raise ValueError(f"sampling must be 'softmax' or 'uniform', got {sampling!r}")
        if weight_steps < 1 or not 0 <= warmup_epochs <= max_epochs:
            raise ValueError(f'need weight_steps >= 1 and 0 <= warmup_epochs <= max_epochs, got '
                             f'{weight_steps}, {warmup_epochs}, {max_epochs}')
        from mmadapt.utils.config_values import config_number
        lam = config_number(lam, 'mmadapt.ArchAdaptLoop lam', minimum=0.0,
                            why='lambda weighs lg(expected MAdds) in the loss; a negative one would maximise MAdds')
        arch_ratio = config_number(arch_ratio, 'mmadapt.ArchAdaptLoop arch_ratio', minimum=0.0, maximum=1.0)
        self.backbone = backbone
        self.warmup_epochs, self.lam, self.weight_steps = int(warmup_epochs), float(lam), int(weight_steps)
        self.sampling = sampling
        self.cost_input_size = tuple(cost_input_size or backbone.input_size or ())
        if len(self.cost_input_size) != 2:
            raise ValueError('mmadapt.ArchAdaptLoop: give cost_input_size=(H, W) or the backbone\'s input_size')
        self.cost_target = resolve_cost_target(cost_target, backbone, self.cost_input_size)
        self.cost_tolerance = config_number(cost_tolerance, 'mmadapt.ArchAdaptLoop cost_tolerance', minimum=0.0)
        runner_seed = runner.seed if runner.seed is not None else 0
        self.seed = runner_seed if seed is None else int(seed)
        self.split_seed = self.seed if split_seed is None else int(split_seed)
        self.arch_ratio = float(arch_ratio)

        # one dataset, two deterministic parts
        cfg = dict(dataloader)
        dataset = cfg['dataset']
        dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.full_dataset = dataset
        self.weight_indices, self.arch_indices = split_indices(len(dataset), self.arch_ratio, self.split_seed)
        weight_cfg = dict(cfg, dataset=SplitDataset(dataset, self.weight_indices))
        super().__init__(runner, weight_cfg, max_epochs, val_begin=val_begin, val_interval=val_interval, **kwargs)
        arch_cfg = dict(cfg, dataset=SplitDataset(dataset, self.arch_indices))
        self.arch_dataloader = runner.build_dataloader(arch_cfg, seed=runner_seed + 1)

        # the weight optimizer must leave the architecture parameters alone
        if isinstance(runner.optim_wrapper, dict):
            paramwise = runner.optim_wrapper.setdefault('paramwise_cfg', {})
            paramwise.setdefault('custom_keys', {})['arch_params'] = dict(lr_mult=0.0, decay_mult=0.0)
        arch_optim = dict(arch_optim or dict(type='Adam', lr=3e-3, betas=(0.5, 0.999), weight_decay=0.0))
        optim_type = arch_optim.pop('type')
        optim_cls = getattr(torch.optim, optim_type, None)
        if optim_cls is None:
            raise ValueError(f'arch_optim type {optim_type!r} is not a torch.optim optimizer')
        self.arch_optimizer = optim_cls(list(backbone.arch_parameters()), **arch_optim)
        self.curves: List[Dict] = []
        runner.register_hook(ArchAdaptStateHook(), priority='VERY_LOW')
        rank, world = get_dist_info()
        print_log(f'mmadapt.ArchAdaptLoop: {len(self.weight_indices)} items for weights, '
                  f'{len(self.arch_indices)} for architecture parameters; {backbone.num_search_layers} searchable '
                  f'layers; warm-up {self.warmup_epochs} of {max_epochs} epochs; lambda {self.lam}; '
                  + (f'cost target {self.cost_target / 1e6:.2f}M MAdds (two-sided); ' if self.cost_target else '') +
                  f'MAdds at {self.cost_input_size[0]}x{self.cost_input_size[1]}; world size {world}',
                  logger='current')

    # -- state --------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return dict(weight_indices=self.weight_indices, arch_indices=self.arch_indices,
                    split_seed=self.split_seed, seed=self.seed, arch_optimizer=self.arch_optimizer.state_dict(),
                    curves=self.curves)

    def load_state_dict(self, state: dict) -> None:
        if state['weight_indices'] != self.weight_indices or state['arch_indices'] != self.arch_indices:
            raise RuntimeError('the checkpoint was searched with a different weight / architecture split of the '
                               'training set (different data, arch_ratio or split_seed); resume refused')
        self.seed = state['seed']
        self.arch_optimizer.load_state_dict(state['arch_optimizer'])
        self.curves = list(state['curves'])

    # -- the loop -------------------------------------------------------------------------------------
    def _path_generator(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self._iter)

    def _reseed(self) -> None:
        s = (self.seed * 7919 + self._epoch) % (2**31)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        self._reseed()
        searching = self._epoch >= self.warmup_epochs
        if hasattr(self.arch_dataloader.sampler, 'set_epoch'):
            self.arch_dataloader.sampler.set_epoch(self._epoch)
        arch_iter = iter(self.arch_dataloader)
        for idx, data_batch in enumerate(self.dataloader):
            self.runner.call_hook('before_train_iter', batch_idx=idx, data_batch=data_batch)
            uniform = (not searching) or self.sampling == 'uniform'
            self.backbone.sample_path(generator=self._path_generator(), uniform=uniform)
            outputs = self.runner.model.train_step(data_batch, optim_wrapper=self.runner.optim_wrapper)
            sampled = self.backbone.path_madds(input_size=self.cost_input_size)
            outputs = dict(outputs)
            outputs['sampled_madds_M'] = torch.tensor(sampled / 1e6)
            if searching and (idx + 1) % self.weight_steps == 0:
                try:
                    arch_batch = next(arch_iter)
                except StopIteration:
                    arch_iter = iter(self.arch_dataloader)
                    arch_batch = next(arch_iter)
                outputs.update(self.arch_step(arch_batch))
            with torch.no_grad():
                outputs['expected_madds_M'] = self.backbone.expected_madds(self.cost_input_size).detach() / 1e6
                outputs['arch_entropy'] = torch.tensor(self.entropy())
            loss = outputs.get('loss')
            self.curves.append(dict(iter=self._iter, epoch=self._epoch,
                                    loss=float(loss) if loss is not None else math.nan,
                                    sampled_madds=int(sampled),
                                    expected_madds=float(outputs['expected_madds_M']) * 1e6))
            self.runner.call_hook('after_train_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)
            self._iter += 1
        self._check_ranks()
        # validation and checkpoints see the derived architecture, not the last sampled path
        path = self.derived_path()
        self.backbone.set_path(path)
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1
        self.write_derived(f'derived_epoch_{self._epoch}.yaml', path)

    def arch_step(self, data_batch) -> Dict[str, torch.Tensor]:
        """One step of the architecture parameters on the mixture (Eq. 7-9); returns log values."""
        return arch_step(unwrap(self.runner.model), self.backbone, data_batch, self.lam, self.cost_input_size,
                         self.arch_optimizer, cost_target=self.cost_target)

    def derived_path(self) -> List[int]:
        """The derived architecture's path: argmax (Sec. 3.2.2), or with a ``cost_target`` the most
        probable path within ``cost_tolerance`` of it (the argmax when that already is)."""
        if self.cost_target is None:
            return self.backbone.argmax_path()
        return self.backbone.budget_path(self.cost_target, self.cost_tolerance, self.cost_input_size)[0]

    def derived_spec(self, path: Optional[List[int]] = None):
        """The derived spec of ``path`` (default: :meth:`derived_path`)."""
        spec = self.backbone.path_spec(self.derived_path() if path is None else path)
        spec.name = f'{self.backbone.spec.name}_derived'
        return spec

    def entropy(self) -> float:
        """Mean entropy (nats) of the architecture distribution over the searchable layers."""
        with torch.no_grad():
            values = [-(p * torch.log(p.clamp_min(1e-12))).sum() for p in self.backbone.arch_probs()]
        return float(torch.stack(values).mean()) if values else 0.0

    def uniform_entropy(self) -> float:
        """What :meth:`entropy` is for a uniform distribution (where the search starts)."""
        sizes = [len(a) for a in self.backbone.arch_params]
        return sum(math.log(n) for n in sizes) / len(sizes) if sizes else 0.0

    def _check_ranks(self) -> None:
        check_identical_on_ranks(self.backbone.arch_params, f'architecture parameters ... after epoch {self._epoch + 1}')

    # -- outputs ------------------------------------------------------------------------------------
    def write_derived(self, name: str, path: Optional[List[int]] = None) -> Optional[str]:
        """Write the derived spec (of ``path``, default :meth:`derived_path`) as ``name`` and
        ``derived.yaml`` in the work dir."""
        from mmadapt.arch import dump_spec
        path = self.derived_path() if path is None else path
        derived = self.derived_spec(path)
        if not is_main_process():
            return None
        work_dir = self.runner.work_dir
        out = osp.join(work_dir, name)
        dump_spec(derived, out)
        dump_spec(derived, osp.join(work_dir, 'derived.yaml'))
        madds = self.backbone.path_madds(path, self.cost_input_size)
        print_log(f'derived architecture after epoch {self._epoch} ({madds / 1e6:.1f}M backbone MAdds at '
                  f'{self.cost_input_size[0]}x{self.cost_input_size[1]}): {derived.describe()}', logger='current')
        return out

    def write_final(self) -> None:
        """The derived spec and its picture, the search curves (Fig. 9) and their data."""
        from mmadapt.arch import draw_spec, dump_spec
        if not is_main_process():
            return
        work_dir = self.runner.work_dir
        path = self.derived_path()
        derived = self.derived_spec(path)
        madds = self.backbone.path_madds(path, self.cost_input_size)
        if self.cost_target is not None and abs(madds - self.cost_target) > self.cost_tolerance * self.cost_target:
            print_log(f'the derived architecture has {madds / 1e6:.2f}M MAdds, {madds / self.cost_target - 1:+.1%} '
                      f'from the cost target {self.cost_target / 1e6:.2f}M (tolerance {self.cost_tolerance:.0%}): '
                      'the closest path found', logger='current', level=logging.WARNING)
        dump_spec(derived, osp.join(work_dir, 'derived_final.yaml'))
        draw_spec(derived, osp.join(work_dir, 'derived.png'), title=f'{derived.name} ({madds / 1e6:.1f}M MAdds)')
        atomic_write_text(osp.join(work_dir, 'search_curves.json'), json.dumps(dict(
            curves=self.curves, arch_params=[a.detach().tolist() for a in self.backbone.arch_params],
            weight_items=len(self.weight_indices), arch_items=len(self.arch_indices),
            entropy=self.entropy(), uniform_entropy=self.uniform_entropy())))
        plot_curves(self.curves, osp.join(work_dir, 'search_curves.png'), self.warmup_epochs)

    def run(self) -> torch.nn.Module:
        model = super().run()
        self.write_final()
        rank, world = get_dist_info()
        if world > 1:  # a record of every rank's architecture parameters
            params = [a.detach().cpu() for a in self.backbone.arch_params]
            atomic_write(osp.join(self.runner.work_dir, f'arch_params_rank{rank}.pth'),
                         lambda tmp: torch.save(params, tmp))
        return model


def resolve_cost_target(target, backbone, input_size) -> Optional[float]:
    """``cost_target`` of :class:`ArchAdaptLoop` as backbone MAdds (None: no target)."""
    if target is None:
        return None
    from mmadapt.arch import SpecError, load_spec, path_of
    if target == 'seed':
        raise ValueError("mmadapt.ArchAdaptLoop cost_target='seed' is resolved by the FNA++ pipeline "
                         '(tools/train.py with an `fna` config); here give a number of MAdds or a derived spec')
    cost = backbone.cost(input_size)
    if isinstance(target, (str, dict)):
        try:
            madds = cost.path_madds(path_of(backbone.spec, load_spec(target)))
        except SpecError as e:
            raise SpecError(f'mmadapt.ArchAdaptLoop cost_target: {e}') from None
    else:
        from mmadapt.utils.config_values import config_number
        madds = config_number(target, 'mmadapt.ArchAdaptLoop cost_target', minimum=0.0,
                              why='a budget of backbone MAdds, a number or a derived spec of the space')
    low, high = cost.madds_range()
    if not low <= madds <= high:
        raise ValueError(f'mmadapt.ArchAdaptLoop cost_target {madds / 1e6:.2f}M MAdds is outside what the '
                         f'search space reaches at {input_size[0]}x{input_size[1]}: {low / 1e6:.2f}M to '
                         f'{high / 1e6:.2f}M')
    return float(madds)


def arch_step(model, backbone, data_batch, lam: float, cost_input_size, optimizer,
              cost_target: Optional[float] = None) -> Dict[str, torch.Tensor]:
    """One architecture step: mixture forward, ``task_loss + lam * lg(E[MAdds])`` (or, with a
    ``cost_target``, ``lam * |lg(E[MAdds]) - lg(target)|``), gradients of the architecture parameters
    only (averaged over DDP ranks), one optimizer step. Returns the logged values, among them the
    mean absolute gradient that reaches alpha from each term (this rank's).

    ``model`` is the task model itself (not a DDP wrapper), ``backbone`` its super-backbone.
    """
    params = list(backbone.arch_parameters())
    backbone.set_mode('mixture')
    try:
        data = model.data_preprocessor(data_batch, True)
        losses = model._run_forward(data, mode='loss')
        task_loss, _ = model.parse_losses(losses)
        cost = backbone.expected_madds(cost_input_size)
        cost_term = lam * torch.log10(cost)
        if cost_target is not None:
            cost_term = (cost_term - lam * math.log10(cost_target)).abs()
        # the two gradients apart, so that the log shows what reaches alpha from each term
        task_grads = torch.autograd.grad(task_loss, params)
        cost_grads = torch.autograd.grad(cost_term, params, allow_unused=True)
    finally:
        backbone.set_mode('single')
    cost_grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, cost_grads)]
    grads = [t + c for t, c in zip(task_grads, cost_grads)]
    mean_abs = lambda gs: torch.cat([g.detach().abs().reshape(-1) for g in gs]).mean()  # noqa: E731
    stats = dict(arch_grad_task=mean_abs(task_grads), arch_grad_cost=mean_abs(cost_grads))
    rank, world = get_dist_info()
    if world > 1:
        for g in grads:
            dist.all_reduce(g)
            g.div_(world)
    for p, g in zip(params, grads):
        p.grad = g
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return dict(arch_task_loss=task_loss.detach(), cost_term=cost_term.detach(), **stats)


def plot_curves(curves: List[Dict], path: str, warmup_epochs: int = 0) -> None:
    """Training loss and sampled MAdds per iteration (FNA++ Fig. 9)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    if not curves:
        return
    it = [c['iter'] for c in curves]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.2))
    a1.plot(it, [c['loss'] for c in curves], lw=0.8)
    a1.set_xlabel('iteration')
    a1.set_ylabel('training loss')
    a2.plot(it, [c['sampled_madds'] / 1e6 for c in curves], lw=0.6, label='sampled path')
    a2.plot(it, [c['expected_madds'] / 1e6 for c in curves], lw=1.2, label='expected (Eq. 9)')
    a2.set_xlabel('iteration')
    a2.set_ylabel('backbone MAdds (M)')
    a2.legend(fontsize=7)
    warm = [c['iter'] for c in curves if c['epoch'] == warmup_epochs]
    if warmup_epochs and warm:
        for ax in (a1, a2):
            ax.axvline(warm[0], color='grey', ls='--', lw=0.8)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


@HOOKS.register_module()
class ArchAdaptStateHook(Hook):
    """Saves and restores :class:`ArchAdaptLoop`'s state (split, architecture optimizer, curves) and
    records the super-net and derived specs in the checkpoint's meta."""
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = runner.train_loop
        if isinstance(loop, ArchAdaptLoop):
            checkpoint[STATE_KEY] = loop.state_dict()
            meta = checkpoint.setdefault('meta', {})
            meta['arch_spec'] = loop.backbone.spec.to_dict()
            meta['derived_spec'] = loop.derived_spec().to_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        loop = runner._train_loop
        if isinstance(loop, ArchAdaptLoop) and STATE_KEY in checkpoint:
            loop.load_state_dict(checkpoint[STATE_KEY])
