"""The ``network_adjustment`` dict of a config: every field, its default, and its check.

::

    network_adjustment = dict(
        rounds=10,            # trained networks: round 0 is the starting spec, then one per adjustment
        seed=dict(spec=None, checkpoint=None),   # default spec: model.backbone.spec
        init='scratch',       # every round trains from scratch (the paper); 'inherit': from the previous
                              # round's weights, remapped to the new widths (beyond the paper)
        cost=dict(type='madds',            # or 'latency' (a latency table: cost.table=FILE or a dict)
                  input_size=(32, 32),     # (H, W) of the cost count
                  num_classes=100,         # count the classifier's FC as the paper does (None: backbone only)
                  target=None,             # default: the starting spec's cost
                  tolerance=0.01,          # relative error allowed after rescaling
                  tie=None),               # owner of a zero-padded running width: 'first' / 'last' / None (auto)
        holdout=dict(size=0.1, seed=0),    # the FUR / selection split of the training set (fraction or count)
        fur=dict(base_rate=0.05, repeats=5, metric='loss', equal_flops=True, max_rate=0.9,
                 max_batches=None, seed=0),
        adjust=dict(k=3, k_decay=0.0, rate=0.1, rate_decay=0.0, min_width=4),
        dropout=dict(p=0.05, mode='bernoulli', epoch_ramp=True, depth_ramp=True),  # None: no train-time dropout
        select_metric=None,   # the hold-out metric that picks the best round (default: the first reported)
    )
"""
from mmengine.config import Config

from mmadapt.engine.pipeline import PipelineConfigError
from mmadapt.models.channel_dropout import DROPOUT_MODES
from mmadapt.utils.config_values import (check_derived_backbone, config_bool, config_field_number, config_method_dict,
                                          config_section)

from .fur import METRICS

INITS = ('scratch', 'inherit')
COSTS = ('madds', 'latency')

_DEFAULTS = dict(
    rounds=10,
    seed=dict(spec=None, checkpoint=None),
    init='scratch',
    cost=dict(type='madds', input_size=None, num_classes=None, target=None, tolerance=0.01, tie=None, table=None),
    holdout=dict(size=0.1, seed=0),
    fur=dict(base_rate=0.05, repeats=5, metric='loss', equal_flops=True, max_rate=0.9, max_batches=None, seed=0),
    adjust=dict(k=3, k_decay=0.0, rate=0.1, rate_decay=0.0, min_width=4),
    dropout=dict(p=0.05, mode='bernoulli', epoch_ramp=True, depth_ramp=True),
    select_metric=None,
)


class NAConfigError(PipelineConfigError):
    """A Network Adjustment config that lacks or misuses a field; the message names it."""


def _section(na: dict, key: str) -> dict:
    if na.get(key) is None and key == 'dropout' and key in na:
        return None
    return config_section(na, key, _DEFAULTS[key], f'network_adjustment.{key}', NAConfigError)


def _number(value, where: str, low=None, high=None, integer: bool = False, low_open: bool = False):
    return config_field_number(value, f'network_adjustment.{where}', low, high, integer, low_open, NAConfigError)


def na_settings(cfg: Config) -> dict:
    """The ``network_adjustment`` dict of ``cfg`` with defaults filled in and every field checked."""
    na = config_method_dict(cfg, 'network_adjustment', _DEFAULTS, 'Network Adjustment', NAConfigError)
    backbone = check_derived_backbone(cfg, 'network_adjustment', 'a network of explicit widths', NAConfigError)
    out = dict(rounds=_number(na.get('rounds', _DEFAULTS['rounds']), 'rounds', 1, integer=True))
    for key in ('seed', 'cost', 'holdout', 'fur', 'adjust', 'dropout'):
        out[key] = _section(na, key)
    if out['seed']['spec'] is None:
        if backbone.get('spec') is None:
            raise NAConfigError("network_adjustment.seed: missing field 'spec' (and model.backbone has no spec)")
        out['seed']['spec'] = backbone['spec']
    out['init'] = na.get('init', 'scratch')
    if out['init'] not in INITS:
        raise NAConfigError(f"network_adjustment.init {out['init']!r} not allowed; allowed: {list(INITS)}")
    cost = out['cost']
    if cost['type'] not in COSTS:
        raise NAConfigError(f"network_adjustment.cost.type {cost['type']!r} not allowed; allowed: {list(COSTS)}")
    size = cost['input_size']
    if not size or len(size) != 2:
        raise NAConfigError('network_adjustment.cost: missing field input_size=(H, W) (the image size of the cost)')
    cost['input_size'] = (int(size[0]), int(size[1]))
    if cost['num_classes'] is not None:
        _number(cost['num_classes'], 'cost.num_classes', 1, integer=True)
    if cost['target'] is not None:
        _number(cost['target'], 'cost.target', 0, low_open=True)
    _number(cost['tolerance'], 'cost.tolerance', 0, 0.5, low_open=True)
    if cost['tie'] not in (None, 'first', 'last'):
        raise NAConfigError(f"network_adjustment.cost.tie {cost['tie']!r} not allowed; allowed: None, 'first', 'last'")
    if cost['type'] == 'latency' and cost['table'] is None:
        raise NAConfigError("network_adjustment.cost: type='latency' needs table=FILE (a latency table, "
                            'tools/analysis/latency_table.py) or a dict of LatencyTable arguments')
    hold = out['holdout']
    size = hold['size']
    if isinstance(size, float):
        _number(size, 'holdout.size', 0, 0.9, low_open=True)
    else:
        _number(size, 'holdout.size', 1, integer=True)
    _number(hold['seed'], 'holdout.seed', 0, integer=True)
    fur = out['fur']
    _number(fur['base_rate'], 'fur.base_rate', 0, 0.99, low_open=True)
    _number(fur['max_rate'], 'fur.max_rate', 0, 0.99, low_open=True)
    _number(fur['repeats'], 'fur.repeats', 1, integer=True)
    if fur['metric'] not in METRICS:
        raise NAConfigError(f"network_adjustment.fur.metric {fur['metric']!r} not allowed; allowed: {list(METRICS)}")
    fur['equal_flops'] = config_bool(fur['equal_flops'], 'network_adjustment.fur.equal_flops', NAConfigError)
    if fur['max_batches'] is not None:
        _number(fur['max_batches'], 'fur.max_batches', 1, integer=True)
    adj = out['adjust']
    _number(adj['k'], 'adjust.k', 0, integer=True)
    _number(adj['k_decay'], 'adjust.k_decay', 0)
    _number(adj['rate'], 'adjust.rate', 0, 1, low_open=True)
    _number(adj['rate_decay'], 'adjust.rate_decay', 0)
    _number(adj['min_width'], 'adjust.min_width', 1, integer=True)
    drop = out['dropout']
    if drop is not None:
        _number(drop['p'], 'dropout.p', 0, 0.99)
        if drop['mode'] not in DROPOUT_MODES:
            raise NAConfigError(f"network_adjustment.dropout.mode {drop['mode']!r} not allowed; allowed: "
                                f'{list(DROPOUT_MODES)}')
        for key in ('epoch_ramp', 'depth_ramp'):
            drop[key] = config_bool(drop[key], f'network_adjustment.dropout.{key}', NAConfigError)
    out['select_metric'] = na.get('select_metric')
    if out['init'] == 'inherit' and cfg.get('load_from'):
        raise NAConfigError("network_adjustment.init='inherit' sets each round's load_from itself; remove load_from "
                            '(give the starting weights as network_adjustment.seed.checkpoint)')
    return out
