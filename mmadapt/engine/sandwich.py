"""One optimizer step over several sub-networks of one weight-sharing model (the sandwich rule of
slimmable networks: DNA's phase 1, DS-Net's supernet training on a task's own loss)."""
from typing import Callable, Dict, Optional, Sequence

import torch

from .launch import unwrap


def accumulate_step(model, batch, optim_wrapper, configure: Sequence[Callable[[], None]],
                    names: Sequence[str], loss_fn: Optional[Callable] = None, data: Optional[dict] = None
                    ) -> Dict[str, torch.Tensor]:
    """For each ``configure[k]`` (which sets the sub-network), a loss on ``batch`` is back-propagated;
    the gradients accumulate and the optimizer steps once. The loss is the model's task loss
    (``mode='loss'``), or ``loss_fn(k, data)`` (e.g. a distillation loss). ``data``: the batch already
    through the data preprocessor. Returns the losses by ``names`` and their sum as ``'loss'``.
    ``model`` may be a DDP wrapper."""
    module = unwrap(model)
    out = {}
    if data is None:
        with optim_wrapper.optim_context(model):
            data = module.data_preprocessor(batch, True)
    total = 0.0
    for k, (setup, name) in enumerate(zip(configure, names)):
        setup()
        with optim_wrapper.optim_context(model):
            if loss_fn is None:
                loss, _ = module.parse_losses(model._run_forward(data, mode='loss'))
            else:
                loss = loss_fn(k, data)
        optim_wrapper.backward(loss)
        out[name] = loss.detach()
        total = total + loss.detach()
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    out['loss'] = total
    return out
