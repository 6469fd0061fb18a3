"""Train-time channel dropout (Network Adjustment, Sec. 3.5), as an mmengine hook."""
from typing import Dict, Optional

from mmengine.hooks import Hook

from mmadapt.engine.launch import unwrap
from mmadapt.models.channel_dropout import ChannelDropout, attach_channel_dropout, set_dropout_rates
from mmadapt.registry import HOOKS
from mmadapt.utils.config_values import config_bool


def _backbone(runner):
    model = unwrap(runner.model)
    if not hasattr(model, 'backbone'):
        raise TypeError(f'ChannelDropoutHook needs a model with a backbone, got {type(model).__name__}')
    return model.backbone


@HOOKS.register_module()
class ChannelDropoutHook(Hook):
    """Channel dropout after every width of the backbone while training, off while evaluating.

    The rate of layer ``l`` (0-based, of ``L`` widths) in epoch ``e`` (0-based, of ``E``) is
    ``p * e / E`` with ``epoch_ramp`` and times ``(l + 1) / L`` with ``depth_ramp`` (the paper's
    public code: both ramps on CIFAR, the epoch ramp only on ImageNet); so the first epoch trains
    without dropout. Iteration-based loops ramp over iterations instead of epochs.

    Args:
        p: the final rate (the paper: 0.05). mode: ``'bernoulli'`` or ``'gaussian'``.
        epoch_ramp / depth_ramp: the two ramps.
    """
    priority = 'NORMAL'

    def __init__(self, p: float = 0.05, mode: str = 'bernoulli', epoch_ramp: bool = True, depth_ramp: bool = True):
        ChannelDropout(p, mode)  # validates p and mode
        self.p, self.mode = float(p), mode
        self.epoch_ramp = config_bool(epoch_ramp, 'ChannelDropoutHook.epoch_ramp')
        self.depth_ramp = config_bool(depth_ramp, 'ChannelDropoutHook.depth_ramp')
        self.drops: Optional[Dict[str, ChannelDropout]] = None

    def rates(self, progress: float) -> list:
        """The rates at ``progress`` = e / E of training."""
        n = len(self.drops)
        ramp = progress if self.epoch_ramp else 1.0
        return [self.p * ramp * ((i + 1) / n if self.depth_ramp else 1.0) for i in range(n)]

    def before_run(self, runner) -> None:
        self.drops = attach_channel_dropout(_backbone(runner), self.mode)

    def _progress(self, runner) -> float:
        loop = runner.train_loop
        if getattr(loop, 'max_epochs', None):
            return runner.epoch / loop.max_epochs
        return runner.iter / max(loop.max_iters, 1)

    def before_train_epoch(self, runner) -> None:
        set_dropout_rates(self.drops, self.rates(self._progress(runner)))

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        if not getattr(runner.train_loop, 'max_epochs', None):  # iteration-based loops
            set_dropout_rates(self.drops, self.rates(self._progress(runner)))

    def _off(self, runner) -> None:
        if self.drops:
            set_dropout_rates(self.drops, 0.0)

    before_val_epoch = _off
    before_test_epoch = _off
    after_train = _off

    def after_val_epoch(self, runner, metrics=None) -> None:
        loop = getattr(runner, '_train_loop', None)
        if self.drops and loop is not None and not isinstance(loop, dict) and runner.iter < loop.max_iters:
            set_dropout_rates(self.drops, self.rates(self._progress(runner)))  # training goes on
