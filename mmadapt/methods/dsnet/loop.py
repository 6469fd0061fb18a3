"""DS-Net's two stages as one mmengine loop (``mmadapt.DSNetLoop``): the epochs of Stage I (IEB)
then, after recalibrating the BN statistics of every route, the epochs of Stage II (the gates).

Stage I, In-place Ensemble Bootstrapping (Eq. 3-5): each step the widest route on the labels, ``n``
random routes on the EMA model's widest output, the slimmest on the mean of the EMA model's softmaxes
of the widest and of the same random routes (``ensemble=False``: on the EMA widest only, the public
code's default); the gradients of the ``n + 2`` losses are accumulated and the optimizer steps once;
then the EMA model (parameters and buffers, ``ema_decay`` per step) follows. The random routes are
drawn uniformly among the routes other than the widest and the slimmest, the same on every rank.

Stage II (Eq. 10-12): the supernet frozen (BN in eval mode), only the gates' slimming heads trained
(``gate_params='all'``: every gate and attention parameter), on
``lambdas[0] * CE + lambdas[1] * (E[MAdds] / T)^2 + lambdas[2] * SGS``: the classification loss
through the masked dynamic forward with straight-through Gumbel-softmax one-hots (``tau``); E the
batch mean of each image's route MAdds (exact, from the one-hots), T the widest route's MAdds
(the paper's "total MAdds of the supernet"); SGS the cross-entropy of each gate's raw logits with
the target of each image: "try best" (``sgs='try_best'``): the slimmest choice if the slimmest route
classifies it correctly, else the widest; "give up": the slimmest also when the widest route is
wrong. SGD with ``gate_lr`` decayed by ``gate_lr_decay`` per epoch (the paper: 0.05, x0.9, 10 epochs).

At the end the dynamic network (deterministic argmax routing, grouped sliced inference) is evaluated
beside every static route on the validation data, written to ``<work_dir>/dsnet/summary.{json,md}``
and ``curve.png``.
"""
import copy
import os
import os.path as osp
import random
from functools import partial
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import barrier, is_main_process
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import DataLoader

from mmadapt.engine.launch import check_identical_on_ranks, unwrap
from mmadapt.engine.sandwich import accumulate_step
from mmadapt.models.backbones.dynamic import DSBackbone
from mmadapt.registry import HOOKS, LOOPS
from .evaluate import (evaluate_routes, evaluate_routes_with, gate_madds, route_madds, route_probs,
                       static_routes_to_report, write_summary)


class DSNetConfigError(ValueError):
    """A DS-Net loop setting is missing or malformed."""


def soft_cross_entropy(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """Mean over images of ``-sum_c p_c log softmax(logits)_c`` (temperature 1, as the paper)."""
    return -(target_probs * F.log_softmax(logits, dim=1)).sum(1).mean()


def _labels(data) -> torch.Tensor:
    return torch.cat([s.gt_label for s in data['data_samples']]).to(data['inputs'].device)


@torch.no_grad()
def ema_update(teacher: torch.nn.Module, student: torch.nn.Module, decay: float) -> None:
    """``teacher = decay * teacher + (1 - decay) * student`` over parameters and float buffers
    (integer buffers copied)."""
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for k, t in t_state.items():
        s = s_state[k]
        if t.dtype.is_floating_point:
            t.mul_(decay).add_(s.detach(), alpha=1 - decay)
        else:
            t.copy_(s)


def ieb_step(model, teacher, backbone: DSBackbone, teacher_backbone: DSBackbone, routes, batch, optim_wrapper,
             ensemble: bool = True) -> Dict[str, torch.Tensor]:
    """One IEB step on ``routes`` = [widest, random..., slimmest]; ``model`` may be a DDP wrapper."""
    module = unwrap(model)
    with optim_wrapper.optim_context(model):
        data = module.data_preprocessor(batch, True)
    inputs, labels = data['inputs'], _labels(data)
    with torch.no_grad():
        teacher_backbone.set_route(routes[0])
        t_widest = F.softmax(teacher(inputs, mode='tensor'), 1)
        t_probs = [t_widest]
        if ensemble:
            for r in routes[1:-1]:
                teacher_backbone.set_route(r)
                t_probs.append(F.softmax(teacher(inputs, mode='tensor'), 1))
        t_ensemble = torch.stack(t_probs).mean(0)

    def loss_of(k, data):
        logits = model(data['inputs'], mode='tensor')
        if k == 0:
            return module.head.loss_module(logits, labels, avg_factor=logits.size(0))
        return soft_cross_entropy(logits, t_ensemble if k == len(routes) - 1 else t_widest)

    names = ['loss_widest'] + [f'loss_random{k}' for k in range(1, len(routes) - 1)] + ['loss_slimmest']
    return accumulate_step(model, None, optim_wrapper, [partial(backbone.set_route, r) for r in routes], names,
                           loss_fn=loss_of, data=data)


def sgs_targets(slimmest_correct: torch.Tensor, slimmest: int, widest: int,
                widest_correct: Optional[torch.Tensor] = None, mode: str = 'try_best') -> torch.Tensor:
    """SGS targets (Eq. 10) of one gate: its ``slimmest`` choice for the images the slimmest route
    gets right, else its ``widest``; ``'give_up'`` also sends the images the widest route gets
    wrong to the slimmest choice."""
    target = torch.full(slimmest_correct.shape, widest, dtype=torch.long, device=slimmest_correct.device)
    target[slimmest_correct.bool()] = slimmest
    if mode == 'give_up':
        if widest_correct is None:
            raise ValueError("SGS 'give_up' needs the widest route's correctness")
        target[~widest_correct.bool()] = slimmest
    elif mode != 'try_best':
        raise ValueError(f"sgs must be 'try_best' or 'give_up', got {mode!r}")
    return target


def gate_step(model, backbone: DSBackbone, batch, optimizer, costs: torch.Tensor, target_madds: float,
              lambdas=(1.0, 0.5, 1.0), sgs: str = 'try_best', tau: float = 1.0,
              generator: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
    """One Stage II step (Eq. 12) on the gate parameters held by ``optimizer``."""
    module = unwrap(model)
    data = module.data_preprocessor(batch, True)
    inputs, labels = data['inputs'], _labels(data)
    allowed = [backbone.allowed_choices(g) for g in range(len(backbone.num_choices))]
    low, high = tuple(a[0] for a in allowed), tuple(a[-1] for a in allowed)
    with torch.no_grad():
        backbone.set_route(low)
        slim_ok = model(inputs, mode='tensor').argmax(1) == labels
        wide_ok = None
        if sgs == 'give_up':
            backbone.set_route(high)
            wide_ok = model(inputs, mode='tensor').argmax(1) == labels
    backbone.set_dynamic(masked=True, tau=tau, generator=generator)
    cls = F.cross_entropy(model(inputs, mode='tensor'), labels)
    out = _gate_update(backbone, cls, slim_ok, wide_ok, low, high, sgs, costs, target_madds, lambdas, optimizer)
    return dict(out, loss_cls=cls.detach(), slimmest_acc=slim_ok.float().mean())


def _gate_update(backbone: DSBackbone, task: torch.Tensor, easy: torch.Tensor, wide_ok, low, high, sgs: str,
                 costs: torch.Tensor, target_madds: float, lambdas, optimizer) -> Dict[str, torch.Tensor]:
    """Eq. 12 after a masked forward whose task loss is ``task``: the complexity term from the
    gates' one-hots, the SGS term from each image's easy / hard verdict; one optimizer step."""
    gate_logits, onehots = backbone.gate_outputs()
    per_image = route_probs(onehots) @ costs.to(task.device, task.dtype)
    cplx = (per_image.mean() / target_madds) ** 2
    sgs_loss = sum(F.cross_entropy(z, sgs_targets(easy, low[g], high[g], wide_ok, sgs))
                   for g, z in enumerate(gate_logits)) / len(gate_logits)
    loss = lambdas[0] * task + lambdas[1] * cplx + lambdas[2] * sgs_loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return dict(loss=loss.detach(), loss_cplx=cplx.detach(), loss_sgs=sgs_loss.detach(), madds=per_image.detach().mean())


def _average_over_ranks(tensors) -> None:
    """Under DDP, replace every tensor by its mean over the ranks (each rank recalibrates on its
    own share of the data; the public code's distribute_bn)."""
    from mmengine.dist import all_reduce, get_world_size
    if get_world_size() < 2:
        return
    for t in tensors:
        all_reduce(t, 'mean')


def _image_losses(module, inputs, samples) -> torch.Tensor:
    """(N,) the task loss of every image alone (one forward per image)."""
    out = []
    for i in range(inputs.shape[0]):
        loss, _ = module.parse_losses(module(inputs[i:i + 1], [samples[i]], mode='loss'))
        out.append(loss.detach())
    return torch.stack(out)


def task_gate_step(model, backbone: DSBackbone, batch, optimizer, costs: torch.Tensor, target_madds: float,
                   lambdas=(1.0, 0.5, 1.0), sgs: str = 'try_best', tau: float = 1.0, tolerance: float = 0.1,
                   generator: Optional[torch.Generator] = None) -> Dict[str, torch.Tensor]:
    """Stage II for a task without a per-image notion of "correct" (detection): Eq. 12 with the
    task's own loss as the first term, and SGS targets from per-image losses: an image is *easy*
    when the slimmest route's loss on it is at most ``1 + tolerance`` times the widest route's
    ("the slimmest path was good enough"); ``'give_up'`` also sends to the slimmest the images the
    widest route does worse on than the batch's median loss."""
    module = unwrap(model)
    data = module.data_preprocessor(batch, True)
    inputs, samples = data['inputs'], data['data_samples']
    allowed = [backbone.allowed_choices(g) for g in range(len(backbone.num_choices))]
    low, high = tuple(a[0] for a in allowed), tuple(a[-1] for a in allowed)
    with torch.no_grad():
        backbone.set_route(low)
        slim_loss = _image_losses(module, inputs, samples)
        backbone.set_route(high)
        wide_loss = _image_losses(module, inputs, samples)
    easy = slim_loss <= (1 + tolerance) * wide_loss
    wide_ok = wide_loss <= wide_loss.median() if sgs == 'give_up' else None
    backbone.set_dynamic(masked=True, tau=tau, generator=generator)
    task, _ = module.parse_losses(model(inputs, samples, mode='loss'))
    out = _gate_update(backbone, task, easy, wide_ok, low, high, sgs, costs, target_madds, lambdas, optimizer)
    return dict(out, loss_task=task.detach(), easy_share=easy.float().mean())


@torch.no_grad()
def recalibrate_routes(model, backbone: DSBackbone, batches: List, log=None) -> None:
    """Recompute the BN statistics of every route (DS-Net after Stage I): the switched BN layers
    from scratch per route (cumulative average over ``batches``), the shared ones over all routes.
    Nothing to do without BN statistics per route (GroupNorm)."""
    if not backbone.has_route_stats:
        return
    module = unwrap(model)
    norms = [m for m in module.modules() if isinstance(m, _BatchNorm)]
    switched = set(id(m) for m in backbone.switched_norms())
    momenta = [m.momentum for m in norms]
    was_training = module.training
    module.train()
    try:
        for m in norms:
            m.momentum = None
            if id(m) not in switched:
                m.reset_running_stats()
        for route in backbone.routes:
            for m in backbone.switched_norms():
                m.reset_running_stats()
            backbone.store_route_stats(route)
            for batch in batches:
                data = module.data_preprocessor(batch, False)
                backbone.set_route(route)
                module(data['inputs'], mode='tensor')
        _average_over_ranks([b for m in norms for b in (m.running_mean, m.running_var)]
                            + [b for _, b in backbone.route_stats.named_buffers()])
        if log:
            log(f'DS-Net: BN statistics recalibrated for {len(backbone.routes)} routes on {len(batches)} batches')
    finally:
        for m, mom in zip(norms, momenta):
            m.momentum = mom
        module.train(was_training)


def _difficulty(dataset) -> Optional[List[str]]:
    """The easy / hard label of every image of a shapes set made with ``--difficulty mixed``."""
    from mmadapt.datasets.shapes import read_difficulty
    root, ann = getattr(dataset, 'data_root', None), getattr(dataset, 'ann_file', None)
    if not root or not ann:
        return None
    split = osp.splitext(osp.basename(ann))[0]
    try:
        return read_difficulty(root, split)
    except (FileNotFoundError, ValueError):
        return None


@LOOPS.register_module()
class DSNetLoop(EpochBasedTrainLoop):
    """Stage I (IEB) for ``stage1_epochs``, BN recalibration, Stage II (gates) for ``stage2_epochs``.

    Args:
        stage1_epochs / stage2_epochs: epochs of each stage (``max_epochs`` is their sum).
        num_random: random routes per IEB step (the paper's n; 2).
        ema_decay: the EMA model's decay per step (0.997, the public code's).
        ensemble: the slimmest route learns from the ensemble of the EMA outputs (the paper) or from
            the EMA widest only (``False``, the public code's default).
        stage2_from: ``'ema'`` (Stage II starts from the EMA supernet, as the public code evaluates
            and keeps it) or ``'model'``.
        recal_batches: training batches per route for the BN recalibration.
        gate_lr / gate_lr_decay / gate_momentum / gate_weight_decay: Stage II's SGD.
        lambdas: (lambda1, lambda2, lambda3) of Eq. 12 (1, 0.5, 1).
        sgs: ``'try_best'`` or ``'give_up'``. tau: Gumbel-softmax temperature.
        gate_params: ``'slim'`` (W2 only, the public code) or ``'all'``.
        input_size / num_classes: of the MAdds counts.
        target_madds: T of the complexity loss (default: the widest route's MAdds).
        latency_images: images timed at batch 1 in the final evaluation (0: no latency).
        gate_choices: per gate, the choices Stage II may route to (None: all): the routing space
            restricted per model size (DS-MBNet-S / M / L share one supernet).
        sgs_tolerance: tasks other than classification (detection): an image is easy when the
            slimmest route's loss on it is within this fraction of the widest route's.

    An mmpretrain classifier is trained as the paper (IEB's distillation, SGS from correctness); any
    other task model (an mmdet detector) with its own loss: Stage I on the task loss for every
    route of the sandwich (the widest, ``num_random`` random, the slimmest), Stage II with
    :func:`task_gate_step`; the final evaluation then uses the runner's evaluator.
        seed: of the random routes and the Gumbel noise.
    """

    def __init__(self, runner, dataloader: Union[DataLoader, Dict], stage1_epochs: int, stage2_epochs: int,
                 input_size: Sequence[int], num_classes: int, num_random: int = 2, ema_decay: float = 0.997,
                 ensemble: bool = True, stage2_from: str = 'ema', recal_batches: int = 20, gate_lr: float = 0.05,
                 gate_lr_decay: float = 0.9, gate_momentum: float = 0.9, gate_weight_decay: float = 0.0,
                 lambdas: Sequence[float] = (1.0, 0.5, 1.0), sgs: str = 'try_best', tau: float = 1.0,
                 gate_params: str = 'slim', target_madds: Optional[float] = None, latency_images: int = 50,
                 gate_choices: Optional[Sequence] = None, sgs_tolerance: float = 0.1, seed: int = 0, val_begin: int = 1, val_interval: int = 1) -> None:
        for name, v in (('stage1_epochs', stage1_epochs), ('stage2_epochs', stage2_epochs)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise DSNetConfigError(f'DSNetLoop {name} must be a non-negative integer, got {v!r}')
        if stage1_epochs + stage2_epochs < 1:
            raise DSNetConfigError('DSNetLoop needs at least one epoch (stage1_epochs + stage2_epochs)')
        if not 0 <= ema_decay < 1:
            raise DSNetConfigError(f'DSNetLoop ema_decay must be in [0, 1), got {ema_decay!r}')
        if stage2_from not in ('ema', 'model'):
            raise DSNetConfigError(f"DSNetLoop stage2_from must be 'ema' or 'model', got {stage2_from!r}")
        if sgs not in ('try_best', 'give_up'):
            raise DSNetConfigError(f"DSNetLoop sgs must be 'try_best' or 'give_up', got {sgs!r}")
        if gate_params not in ('slim', 'all'):
            raise DSNetConfigError(f"DSNetLoop gate_params must be 'slim' or 'all', got {gate_params!r}")
        if len(tuple(lambdas)) != 3:
            raise DSNetConfigError(f'DSNetLoop lambdas must be three numbers (Eq. 12), got {lambdas!r}')
        if len(tuple(input_size)) != 2:
            raise DSNetConfigError(f'DSNetLoop input_size must be (H, W), got {input_size!r}')
        super().__init__(runner, dataloader, max_epochs=stage1_epochs + stage2_epochs, val_begin=val_begin,
                         val_interval=val_interval)
        model = unwrap(runner.model)
        backbone = getattr(model, 'backbone', None)
        if not isinstance(backbone, DSBackbone):
            raise DSNetConfigError('DSNetLoop trains a classifier whose backbone is an mmadapt.DSBackbone, got '
                                   f'{type(backbone).__name__}')
        self.backbone = backbone
        self.task = 'cls' if hasattr(getattr(model, 'head', None), 'loss_module') else 'task'
        self.sgs_tolerance = float(sgs_tolerance)
        try:
            backbone.set_allowed_choices(gate_choices)
        except ValueError as e:
            raise DSNetConfigError(f'DSNetLoop gate_choices: {e}') from None
        self.gate_choices = gate_choices
        self.stage1_epochs, self.stage2_epochs = stage1_epochs, stage2_epochs
        self.num_random, self.ema_decay, self.ensemble = int(num_random), float(ema_decay), bool(ensemble)
        self.stage2_from, self.recal_batches = stage2_from, int(recal_batches)
        self.gate_lr, self.gate_lr_decay = float(gate_lr), float(gate_lr_decay)
        self.gate_momentum, self.gate_weight_decay = float(gate_momentum), float(gate_weight_decay)
        self.lambdas, self.sgs, self.tau, self.gate_params = tuple(float(v) for v in lambdas), sgs, float(tau), gate_params
        self.input_size, self.num_classes = tuple(int(v) for v in input_size), int(num_classes)
        self.latency_images, self.seed = int(latency_images), int(seed)
        self.costs = route_madds(backbone, self.input_size, self.num_classes if self.task == 'cls' else None)
        self.gate_cost = gate_madds(backbone)
        self.target_madds = float(target_madds) if target_madds else float(self.costs[backbone.route_index('max')])
        self.generator = torch.Generator().manual_seed(self.seed)
        self.teacher = None
        self.gate_optimizer = None
        self._recalibrated = False
        self._resumed_state: Optional[dict] = None

    # -- the stages -----------------------------------------------------------------------------
    def stage(self, epoch: Optional[int] = None) -> int:
        return 1 if (self._epoch if epoch is None else epoch) < self.stage1_epochs else 2

    def _teacher(self):
        if self.teacher is None:
            self.teacher = copy.deepcopy(unwrap(self.runner.model)).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
        return self.teacher

    def _random_routes(self) -> List:
        bb = self.backbone
        pool = [r for r in bb.routes if r not in (bb.max_route, bb.min_route)] or [bb.max_route]
        idx = torch.randint(len(pool), (self.num_random, ), generator=self.generator)
        return [pool[int(i)] for i in idx]

    @property
    def uses_ema(self) -> bool:
        """Whether the EMA model is kept: IEB's teachers (classifiers) or Stage II's start."""
        return self.task == 'cls' or self.stage2_from == 'ema'

    def _prepare_supernet(self) -> None:
        """The supernet Stage II starts from (the EMA model's weights with ``stage2_from='ema'``),
        its BN statistics recalibrated per route; once per run."""
        if self._recalibrated:
            return
        if self.stage1_epochs and self.stage2_from == 'ema' and self.teacher is not None:
            unwrap(self.runner.model).load_state_dict(self.teacher.state_dict())
        batches = [b for _, b in zip(range(self.recal_batches), self.dataloader)]
        recalibrate_routes(self.runner.model, self.backbone, batches, self.runner.logger.info)
        self._recalibrated = True

    def _start_stage2(self) -> None:
        module = unwrap(self.runner.model)
        if (self._resumed_state or {}).get('stage2_started'):  # resumed inside Stage II: supernet ready
            self._recalibrated = True
        self._prepare_supernet()
        for p in module.parameters():
            p.requires_grad_(False)
        params = self.backbone.gate_parameters(self.gate_params)
        for p in params:
            p.requires_grad_(True)
        self.gate_optimizer = torch.optim.SGD(params, lr=self.gate_lr, momentum=self.gate_momentum,
                                              weight_decay=self.gate_weight_decay)

    def _gate_mode(self) -> None:
        module = unwrap(self.runner.model)
        module.train()
        for m in module.modules():
            if isinstance(m, (_BatchNorm, torch.nn.GroupNorm)):
                m.eval()

    def _reseed(self) -> None:
        """Seed Python, NumPy and torch from (seed, epoch): the data augmentation of a resumed run
        draws what the uninterrupted run drew."""
        s = (self.seed * 7919 + self._epoch) % (2**31)
        random.seed(s)
        np.random.seed(s)
        torch.manual_seed(s)

    def run_epoch(self) -> None:
        self._reseed()
        self.runner.call_hook('before_train_epoch')
        model = self.runner.model
        if self.stage() == 1:
            model.train()
        else:
            if self.gate_optimizer is None:
                self._start_stage2()
                if (self._resumed_state or {}).get('gate_optimizer'):
                    self.gate_optimizer.load_state_dict(self._resumed_state['gate_optimizer'])
            for group in self.gate_optimizer.param_groups:
                group['lr'] = self.gate_lr * self.gate_lr_decay ** (self._epoch - self.stage1_epochs)
            self._gate_mode()
        for idx, batch in enumerate(self.dataloader):
            self.run_iter(idx, batch)
        if self.stage() == 1:
            self.backbone.set_route('max')  # validation of Stage I: the widest route
        else:
            self.backbone.set_dynamic()
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1

    def run_iter(self, idx: int, batch) -> None:
        self.runner.call_hook('before_train_iter', batch_idx=idx, data_batch=batch)
        bb = self.backbone
        if self.stage() == 1:
            routes = [bb.max_route] + self._random_routes() + [bb.min_route]
            if self.task == 'cls':
                teacher = self._teacher()
                outputs = ieb_step(self.runner.model, teacher, bb, teacher.backbone, routes, batch,
                                   self.runner.optim_wrapper, self.ensemble)
            else:
                names = ['loss_widest'] + [f'loss_random{k + 1}' for k in range(len(routes) - 2)] + ['loss_slimmest']
                outputs = accumulate_step(self.runner.model, batch, self.runner.optim_wrapper,
                                          [partial(bb.set_route, r) for r in routes], names)
            if self.uses_ema:
                ema_update(self._teacher(), unwrap(self.runner.model), self.ema_decay)
        elif self.task == 'cls':
            outputs = gate_step(self.runner.model, bb, batch, self.gate_optimizer, self.costs,
                                self.target_madds, self.lambdas, self.sgs, self.tau, self.generator)
        else:
            outputs = task_gate_step(self.runner.model, bb, batch, self.gate_optimizer, self.costs, self.target_madds,
                                     self.lambdas, self.sgs, self.tau, self.sgs_tolerance, self.generator)
            self.runner.message_hub.update_scalar('train/lr_gate', self.gate_optimizer.param_groups[0]['lr'])
        self.runner.call_hook('after_train_iter', batch_idx=idx, data_batch=batch, outputs=outputs)
        self._iter += 1

    def run(self):
        model = super().run()
        self._prepare_supernet()  # without Stage II epochs, the supernet is what is evaluated
        self._check_ranks()
        self.final_evaluation()
        return model

    def _check_ranks(self) -> None:
        state = unwrap(self.runner.model).state_dict()
        check_identical_on_ranks([v for v in state.values() if v.dtype.is_floating_point],
                                 'DS-Net parameters and statistics ... after both stages')

    def final_evaluation(self) -> Optional[dict]:
        """Dynamic vs static routes on the validation data (rank 0), written to ``<work_dir>/dsnet``."""
        runner = self.runner
        result = None
        if is_main_process() and runner.val_loop is not None:
            module = unwrap(runner.model)
            bb = self.backbone
            loader = runner.val_loop.dataloader
            if self.task == 'cls':
                rows = evaluate_routes(module, loader, self.costs, static_routes_to_report(bb), self.gate_cost,
                                       self.latency_images, _difficulty(loader.dataset), log=runner.logger.info)
                metric = 'top-1'
            else:
                rows, metric = evaluate_routes_with(module, loader, runner.val_loop.evaluator, self.costs,
                                                    static_routes_to_report(bb), self.gate_cost, self.latency_images,
                                                    log=runner.logger.info)
            info = dict(metric=metric, madds_of='the classifier' if self.task == 'cls' else 'the backbone',routes=len(bb.routes), choices_per_gate=bb.num_choices,
                        widest_madds=float(self.costs[bb.route_index('max')]),
                        slimmest_madds=float(self.costs[bb.route_index('min')]),
                        input_size=list(self.input_size), threads=torch.get_num_threads(),
                        device=str(next(module.parameters()).device), sgs=self.sgs, lambdas=list(self.lambdas),
                        stage1_epochs=self.stage1_epochs, stage2_epochs=self.stage2_epochs,
                        ensemble=self.ensemble)
            out = osp.join(runner.work_dir, 'dsnet')
            os.makedirs(out, exist_ok=True)
            result = write_summary(out, rows, info)
            runner.logger.info(f'DS-Net: summary written to {out}/summary.md')
        barrier()
        self.backbone.set_dynamic()
        return result

    # -- state ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return dict(teacher=None if self.teacher is None else self.teacher.state_dict(),
                    stage2_started=self.gate_optimizer is not None,
                    generator=self.generator.get_state(),
                    gate_optimizer=None if self.gate_optimizer is None else self.gate_optimizer.state_dict())

    def load_state_dict(self, state: dict) -> None:
        self._resumed_state = state
        if state.get('teacher') is not None:
            self._teacher().load_state_dict(state['teacher'])
        self.generator.set_state(state['generator'])


@HOOKS.register_module()
class DSNetStateHook(Hook):
    """Saves and restores :class:`DSNetLoop`'s state (EMA model, random state, gate optimizer) with
    the runner's checkpoints, so that a resumed run continues exactly."""
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if isinstance(runner.train_loop, DSNetLoop):
            checkpoint['dsnet_loop'] = runner.train_loop.state_dict()

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if isinstance(runner.train_loop, DSNetLoop) and 'dsnet_loop' in checkpoint:
            runner.train_loop.load_state_dict(checkpoint['dsnet_loop'])


__all__ = ['DSNetLoop', 'DSNetStateHook', 'DSNetConfigError', 'ieb_step', 'gate_step', 'task_gate_step', 'sgs_targets',
           'recalibrate_routes', 'soft_cross_entropy', 'ema_update']
