"""Channel dropout (SpatialDropout): whole channels zeroed per (sample, channel), set layer by layer.

Network Adjustment (Sec. 3.3, 3.5) estimates how much a layer's channels matter by dropping a
fraction of them in that layer alone and watching the validation loss; it also trains with a little
of the same dropout so that the network is not thrown by it at evaluation time.

:class:`ChannelDropout` draws one mask per (sample, channel), shape (N, C, 1, 1):

* ``'bernoulli'`` (default, what the paper's public code uses): a channel is kept with probability
  ``1 - p`` and scaled by ``1 / (1 - p)`` (inverted dropout: the mean is preserved);
* ``'gaussian'``: multiplied by ``1 + sqrt(p / (1 - p)) * N(0, 1)`` (the same mean and variance).

Unlike ``nn.Dropout2d`` it ignores ``module.training``: the rate is set explicitly by whoever owns
it (:attr:`ChannelDropout.p`), so it stays active in eval mode (BN on running statistics) where the
FLOPs utilisation ratio is measured, and a training hook switches it off for validation. Masks come
from :attr:`ChannelDropout.generator` when one is set (reproducible), else from torch's global RNG.

:func:`attach_channel_dropout` puts one dropout after every width variable of a derived backbone
(:mod:`mmadapt.arch.widths`): after BN + activation of the conv that produces the width, before a
residual add; a stage width (shared by the blocks of a stage through identity shortcuts) is dropped
with one mask at the output of each of its blocks. The modules hold no parameters or buffers, so the
backbone's state dict does not change.
"""
import math
from typing import Dict, List, Optional

import torch
import torch.nn as nn

from mmadapt.arch.widths import width_vars

DROPOUT_MODES = ('bernoulli', 'gaussian')


class ChannelDropout(nn.Module):
    """Whole-channel dropout with an explicitly set rate (see the module docstring).

    Args:
        p: drop rate in [0, 1); 0 is the identity.
        mode: ``'bernoulli'`` or ``'gaussian'``.
        shared: reuse one mask for every call until :meth:`reset` (a width used at several places).
    """

    def __init__(self, p: float = 0.0, mode: str = 'bernoulli', shared: bool = False):
        super().__init__()
        if mode not in DROPOUT_MODES:
            raise ValueError(f'channel dropout mode must be one of {list(DROPOUT_MODES)}, got {mode!r}')
        self.mode = mode
        self.shared = shared
        self.generator: Optional[torch.Generator] = None
        self._mask: Optional[torch.Tensor] = None
        self.p = p

    @property
    def p(self) -> float:
        return self._p

    @p.setter
    def p(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value < 1.0 or math.isnan(value):
            raise ValueError(f'channel dropout rate must be in [0, 1), got {value}')
        self._p = value

    def reset(self) -> None:
        """Forget the shared mask (a new forward pass draws a new one)."""
        self._mask = None

    def _draw(self, shape, like: torch.Tensor) -> torch.Tensor:
        gen = self.generator
        dev = gen.device if gen is not None else like.device
        if self.mode == 'bernoulli':
            keep = torch.rand(shape, generator=gen, device=dev) >= self._p
            mask = keep.to(torch.float32) / (1.0 - self._p)
        else:
            mask = 1.0 + math.sqrt(self._p / (1.0 - self._p)) * torch.randn(shape, generator=gen, device=dev)
        return mask.to(device=like.device, dtype=like.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._p == 0.0:
            return x
        shape = (x.shape[0], x.shape[1], 1, 1)
        if self.shared and self._mask is not None and tuple(self._mask.shape) == shape:
            mask = self._mask
        else:
            mask = self._draw(shape, x)
            if self.shared:
                self._mask = mask
        return x * mask

    def extra_repr(self) -> str:
        return f'p={self._p:.4g}, mode={self.mode}' + (', shared' if self.shared else '')


def _targets(backbone: nn.Module, spec, var) -> List[nn.Module]:
    """The modules whose outputs carry width variable ``var`` of a derived backbone."""
    stage = backbone.stages[var.stage]
    if var.kind == 'stage':
        return [blk for blk in stage]
    block = stage[var.layer]
    if spec.family == 'resnet':
        return [block.conv1 if var.kind == 'hidden' else block.conv2]
    if spec.family == 'mbv2':
        return [block.depthwise_conv]  # 'hidden': after the depthwise conv's BN + activation
    return [block.pointwise_conv]  # mbv1 'conv'


def attach_channel_dropout(backbone: nn.Module, mode: str = 'bernoulli') -> Dict[str, ChannelDropout]:
    """Put a :class:`ChannelDropout` (rate 0) after every width variable of a derived backbone.

    Returns the dropouts by variable name, in the order of :func:`mmadapt.arch.widths.width_vars`
    (also kept as ``backbone.channel_dropouts``). Attaching twice returns the existing ones.
    """
    existing = getattr(backbone, 'channel_dropouts', None)
    if existing is not None:
        return {m.var_name: m for m in existing.values()}
    spec = getattr(backbone, 'spec', None)
    if spec is None or not hasattr(backbone, 'stages'):
        raise TypeError(f'channel dropout attaches to a derived spec backbone (mmadapt.Derived*), got '
                        f'{type(backbone).__name__}')
    drops = {}
    for var in width_vars(spec, len(backbone.stages)):
        targets = _targets(backbone, spec, var)
        drop = ChannelDropout(0.0, mode, shared=len(targets) > 1)
        drop.var_name = var.name
        for module in targets:
            module.register_forward_hook(lambda _m, _i, out, d=drop: d(out))
        drops[var.name] = drop
    backbone.channel_dropouts = nn.ModuleDict({k.replace('.', '_'): d for k, d in drops.items()})

    def reset(_module, _inputs):  # a new forward pass draws new shared masks
        for d in drops.values():
            d.reset()

    backbone.register_forward_pre_hook(reset)
    return drops


def set_dropout_rates(drops: Dict[str, ChannelDropout], rates) -> None:
    """Set every dropout's rate: ``rates`` a mapping by name, a sequence in order, or one number."""
    if isinstance(rates, (int, float)):
        rates = {k: rates for k in drops}
    elif not isinstance(rates, dict):
        rates = list(rates)
        if len(rates) != len(drops):
            raise ValueError(f'{len(drops)} channel dropouts, got {len(rates)} rates')
        rates = dict(zip(drops, rates))
    for k, d in drops.items():
        d.p = rates.get(k, 0.0)
