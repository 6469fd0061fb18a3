"""The FLOPs utilisation ratio (Network Adjustment, Eq. 2) of every width of a trained network.

``FUR_l`` is how much the hold-out loss rises when only layer ``l`` drops a fraction ``p_l`` of its
channels (:class:`~mmadapt.models.channel_dropout.ChannelDropout`, eval mode, BN on running
statistics), averaged over ``R`` repeats. The rates come from
:func:`~mmadapt.methods.network_adjustment.adjust.drop_rates`, so every layer drops the same
expected MAdds and the loss rises are comparable: the ranking of FUR = (loss rise) / (MAdds dropped)
is the ranking of the loss rises, which is what is returned (as the public code does; divide by
``base * mean(S)`` for loss per MAdd).

Choices where the paper is silent (stated in the README):

* the loss (the model's own training loss, summed over samples) by default, as the public code
  does; ``metric='acc'`` uses the drop in top-1 accuracy (classifiers), as the paper's text says;
* masks from a dedicated generator seeded by (seed, layer, repeat, rank): the same masks on every
  rerun, independent of training's random state;
* the hold-out batches are collected once and reused for every layer and repeat (the base loss on
  the same batches), unless ``cache=False``;
* under DDP each rank evaluates its shard and the sums and counts are all-reduced, so every rank
  returns the same FUR.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_dist_info

from mmadapt.engine.launch import unwrap
from mmadapt.models.channel_dropout import ChannelDropout, set_dropout_rates

METRICS = ('loss', 'acc')


def _batch_score(model, data, metric: str):
    """(sum over the batch, number of samples) of the loss or of the correct predictions."""
    n = len(data['data_samples'])
    if metric == 'loss':
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        return float(loss) * n, n
    preds = model(**data, mode='predict')
    correct = 0
    for p in preds:
        if 'pred_label' not in p or 'gt_label' not in p:
            raise ValueError("metric='acc' needs a classifier's predictions (pred_label, gt_label); use "
                             "metric='loss' for other tasks")
        correct += int(p.pred_label.view(-1)[0] == p.gt_label.view(-1)[0])
    return float(correct), n


@torch.no_grad()
def compute_fur(model, dataloader, drops: Dict[str, ChannelDropout], rates: Sequence[float], repeats: int = 5,
                seed: int = 0, metric: str = 'loss', max_batches: Optional[int] = None, cache: bool = True) -> Dict:
    """FUR of every width (see the module docstring).

    Args:
        model: an mmengine model (mmpretrain / mmdet / ... ``BaseModel``, DDP-wrapped or not) whose
            backbone has the ``drops`` attached (:func:`~mmadapt.models.channel_dropout.attach_channel_dropout`).
        dataloader: the hold-out split (never the test set).
        drops: the dropouts by width-variable name, in order; ``rates`` one rate per dropout.
        repeats: R, masks drawn per layer. seed: of the mask generators.
        metric: ``'loss'`` or ``'acc'``. max_batches: use only the first batches (CPU budgets).
        cache: keep the preprocessed batches in memory between passes.
    Returns:
        dict(fur=[...], base=..., scores=[[per repeat]...], samples=N, metric=...): ``fur[l]`` is the
        mean rise of the per-sample loss (or fall of the accuracy) when layer ``l`` alone drops.
    """
    if metric not in METRICS:
        raise ValueError(f'FUR metric must be one of {list(METRICS)}, got {metric!r}')
    if len(rates) != len(drops):
        raise ValueError(f'{len(drops)} channel dropouts, got {len(rates)} rates')
    if repeats < 1:
        raise ValueError(f'repeats must be at least 1, got {repeats}')
    net = unwrap(model)
    was_training = net.training
    net.eval()
    rank, _ = get_dist_info()
    device = next(net.parameters()).device
    cached: List = []

    def batches():
        if cache and cached:
            yield from cached
            return
        for i, data in enumerate(dataloader):
            if max_batches is not None and i >= max_batches:
                break
            data = net.data_preprocessor(data, False)
            if cache:
                cached.append(data)
            yield data

    def score() -> float:
        total = torch.zeros(2, dtype=torch.float64, device=device)
        for data in batches():
            s, n = _batch_score(net, data, metric)
            total[0] += s
            total[1] += n
        all_reduce(total)  # sum over ranks
        if total[1] == 0:
            raise ValueError('the FUR hold-out split is empty')
        return float(total[0] / total[1])

    names = list(drops)
    try:
        set_dropout_rates(drops, 0.0)
        base = score()
        scores = []
        for layer, name in enumerate(names):
            row = []
            drop = drops[name]
            for r in range(repeats):
                gen = torch.Generator(device='cpu')
                gen.manual_seed(((seed * 1000003 + layer) * 1009 + r) * 131 + rank)
                drop.generator = gen
                drop.p = rates[layer]
                try:
                    row.append(score())
                finally:
                    drop.p = 0.0
                    drop.generator = None
            scores.append(row)
    finally:
        set_dropout_rates(drops, 0.0)
        net.train(was_training)
    sign = 1.0 if metric == 'loss' else -1.0  # a loss rises, an accuracy falls
    fur = [sign * (sum(row) / len(row) - base) for row in scores]
    samples = sum(len(d['data_samples']) for d in cached) if cached else None
    return dict(fur=fur, base=base, scores=scores, metric=metric, names=names, samples=samples)
