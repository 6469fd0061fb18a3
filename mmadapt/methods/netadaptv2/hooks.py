"""Ordered dropout (Sec. 2.3): one sub-network per image, in one forward-backward pass."""
from typing import Optional, Sequence

import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook

from mmadapt.engine.launch import unwrap
from mmadapt.registry import HOOKS

from .space import NAv2Space


@HOOKS.register_module()
class OrderedDropoutHook(Hook):
    """Before every training iteration, give each image of the batch its own sub-network of the
    elastic backbone (:meth:`ElasticBackbone.set_sample_subnets`: the channels beyond an image's
    widths are zeroed after BN and activation, the bypass carries their complement), drawn so that
    every width of every layer appears about equally often in the batch
    (:meth:`NAv2Space.stratified_genomes`); kernels are drawn once per batch (per-sample sub-networks
    of one batch share kernels; the notes' option ``kernel_sampling='batch'``). Validation and
    testing run the max network.

    Args:
        widths / kernels / divisor / elastic_stem / elastic_head: the space (:class:`NAv2Space`).
        kernel_sampling: ``'batch'`` or ``'max'`` (kernels stay at their max).
        seed: the draws of iteration ``t`` on rank ``r`` come from ``(seed, t, r)``: reproducible, and
            different images on different ranks (the notes' recommendation 23).
    """
    priority = 'ABOVE_NORMAL'

    def __init__(self, widths=9, kernels: Optional[Sequence[int]] = None, divisor: int = 1,
                 elastic_stem: bool = False, elastic_head: bool = True, kernel_sampling: str = 'batch',
                 seed: int = 0):
        if kernel_sampling not in ('batch', 'max'):
            raise ValueError(f"OrderedDropoutHook kernel_sampling must be 'batch' or 'max', got {kernel_sampling!r}")
        self.kw = dict(widths=widths, kernels=kernels, divisor=divisor, elastic_stem=elastic_stem,
                       elastic_head=elastic_head)
        self.kernel_sampling, self.seed = kernel_sampling, int(seed)
        self.space = None

    def _backbone(self, runner):
        from mmadapt.models.backbones.elastic import ElasticBackbone
        backbone = getattr(unwrap(runner.model), 'backbone', None)
        if not isinstance(backbone, ElasticBackbone):
            raise TypeError('OrderedDropoutHook trains an elastic backbone (mmadapt.Elastic*) as model.backbone; '
                            f'got {type(backbone).__name__}')
        return backbone

    def before_train(self, runner) -> None:
        self.space = NAv2Space(self._backbone(runner).spec, **self.kw)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if data_batch is None:
            return
        n = len(data_batch['inputs'])
        rank, _ = get_dist_info()
        g = torch.Generator().manual_seed((self.seed * 1000003 + runner.iter) * 1009 + rank)
        genomes = self.space.stratified_genomes(n, g, self.kernel_sampling)
        self._backbone(runner).set_sample_subnets([self.space.spec(x) for x in genomes])

    def before_val(self, runner) -> None:
        # the next training iteration sets its own sub-networks: only leaving training restores the max
        backbone = self._backbone(runner)
        backbone.clear_sample_subnets()
        backbone.set_subnet(None)

    before_test = after_train = before_val
