"""Recompute BN statistics before training, then optionally freeze BN (FNA++ Sec. 4.4, ResNet-50)."""
import torch
import torch.distributed as dist
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch.nn.modules.batchnorm import _BatchNorm

from mmadapt.registry import HOOKS


@torch.no_grad()
def recompute_bn_statistics(norms, forward, batches) -> int:
    """Reset the statistics of the BN layers ``norms`` and re-estimate them as the cumulative average
    over ``forward(batch)`` for every batch of ``batches`` (no gradients; the caller puts the layers in
    training mode); their momenta are restored. Returns the number of batches."""
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    seen = 0
    try:
        for batch in batches:
            forward(batch)
            seen += 1
    finally:
        for m, mom in zip(norms, momenta):
            m.momentum = mom
    return seen


@HOOKS.register_module()
class BNRecalibrationHook(Hook):
    """Before training: reset the backbone's BN statistics and re-estimate them over ``iters``
    training batches (cumulative average, no gradients, averaged over DDP ranks as SyncBN would);
    with ``freeze``, the backbone's BN layers then stay in eval mode and their affine parameters are
    not trained.

    Args:
        iters: number of training batches (the paper: 200).
        freeze: freeze the backbone's BN layers afterwards.
    """
    priority = 'HIGH'

    def __init__(self, iters: int = 200, freeze: bool = True):
        if iters < 1:
            raise ValueError(f'iters must be at least 1, got {iters}')
        from mmadapt.utils.config_values import config_bool
        self.iters, self.freeze = int(iters), config_bool(freeze, 'BNRecalibrationHook.freeze')

    def before_train(self, runner) -> None:
        from mmadapt.engine.launch import unwrap
        model = unwrap(runner.model)
        bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]

        def batches():
            seen = 0
            while True:
                for batch in runner.train_dataloader:
                    if seen >= self.iters:
                        return
                    seen += 1
                    yield batch

        model.train()
        seen = recompute_bn_statistics(bns, lambda b: model.backbone(model.data_preprocessor(b, True)['inputs']),
                                       batches())
        rank, world = get_dist_info()
        if world > 1:
            for m in bns:
                for buf in (m.running_mean, m.running_var):
                    dist.all_reduce(buf)
                    buf.div_(world)
        if self.freeze:
            model.backbone.norm_eval = True
            for m in bns:
                for p in m.parameters():
                    p.requires_grad = False
            model.backbone.train()
        print_log(f'BN statistics of {len(bns)} backbone BN layers recomputed over {seen} batches'
                  + ('; backbone BN frozen' if self.freeze else ''), logger='current')
