"""One optimizer step over several sub-networks of one weight-sharing model (the sandwich rule of
slimmable networks: DNA's phase 1, DS-Net's supernet training on a task's own loss)."""
from typing import Callable, Dict, Sequence

import torch

from .launch import unwrap


def accumulate_step(model, batch, optim_wrapper, configure: Sequence[Callable[[], None]],
                  names: Sequence[str]) -> Dict[str, torch.Tensor]:
    """For each ``configure[k]`` (which sets the sub-network), the model's task loss on ``batch``
    (``mode='loss'``) is back-propagated; the gradients accumulate and the optimizer steps once.
    Returns the losses by ``names`` and their sum as ``'loss'``. ``model`` may be a DDP wrapper."""
    module = unwrap(model)
    out = {}
    with optim_wrapper.optim_context(model):
        data = module.data_preprocessor(batch, True)
    total = 0.0
    for setup, name in zip(configure, names):
        setup()
        with optim_wrapper.optim_context(model):
            losses = model._run_forward(data, mode='loss')
        loss, _ = module.parse_losses(losses)
        optim_wrapper.backward(loss)
        out[name] = loss.detach()
        total = total + loss.detach()
    optim_wrapper.step()
    optim_wrapper.zero_grad()
    out['loss'] = total
    return out
