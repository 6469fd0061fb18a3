"""The ``netadaptv2`` dict of a config: every field, its default, and its check.

::

    netadaptv2 = dict(
        seed=dict(checkpoint=None),     # weights of the initial network (model.backbone's derived spec):
                                        # a checkpoint of the task model, 'train' (trained first with the
                                        # config's recipe on the training split), or None (from scratch)
        holdout=dict(size=0.2, seed=0), # the held-out split of the training set (samples or a fraction)
        bypass=8,                       # channel-level bypass limits, App. B: T = bypass x stride / 2 on every
                                        # layer without a residual shortcut (0 / None: no CBC, NetAdapt v1)
        space=dict(widths=9, kernels=None, divisor=1, elastic_stem=False, elastic_head=True),
        supernet=dict(epochs=None,      # ordered-dropout epochs (None: the config's max_epochs)
                      kernel_sampling='batch',
                      optim_wrapper=None),   # None: the config's
        budget=None,                    # the resource to reach (MAdds, or ms for a latency cost), or
        budget_ratio=None,              # a fraction of the seed's (measured latency for a latency cost)
        cost=dict(type='madds', input_size=(224, 224)),   # or type='latency' (netadaptv2.cost)
        search=dict(num_samples=200, num_layers=10, r0=0.03, decay=0.98, criterion='accuracy', clamp=True,
                    recal_batches=10, eval_mode='sequential', eval_batch=256, metric=None, seed=0),
        final=dict(init='supernet',     # 'supernet' (the found network's slices of the super-net), 'scratch',
                                        # or 'trajectory' (App. A.2)
                   epochs=None,         # None: the config's max_epochs
                   transfer_epochs=2,   # per trajectory step ('trajectory')
                   transfer_every=1),   # take every n-th step of the trajectory (and always the last)
        compare=('seed', ),             # also train the seed network the same way (the summary's first row)
        latency=dict(threads=1, warmup=10, repeats=30),   # the measured latencies of the summary
    )
"""
from mmengine.config import Config

from mmadapt.engine.pipeline import PipelineConfigError
from mmadapt.utils.config_values import (check_derived_backbone, config_bool, config_choice_list, config_field_number,
                                          config_method_dict, config_section)

from .loop import EVAL_MODES
from .mcd import CRITERIA

INITS = ('supernet', 'scratch', 'trajectory')
# the derived backbones whose families have channel-level bypass and an elastic network
INITIAL_BACKBONES = ('mmadapt.DerivedMobileNetV2', 'mmadapt.DerivedMobileNetV1', 'mmadapt.DerivedMobileNetV3')
COMPARES = ('seed', )

_DEFAULTS = dict(
    seed=dict(checkpoint=None),
    holdout=dict(size=0.2, seed=0),
    bypass=8,
    space=dict(widths=9, kernels=None, divisor=1, elastic_stem=False, elastic_head=True),
    supernet=dict(epochs=None, kernel_sampling='batch', optim_wrapper=None),
    budget=None,
    budget_ratio=None,
    cost=dict(type='madds', input_size=None),
    search=dict(num_samples=200, num_layers=10, r0=0.03, decay=0.98, criterion='accuracy', clamp=True,
                recal_batches=10, eval_mode='sequential', eval_batch=256, metric=None, seed=0),
    final=dict(init='supernet', epochs=None, transfer_epochs=2, transfer_every=1),
    compare=('seed', ),
    latency=dict(threads=1, warmup=10, repeats=30),
)


class NAv2ConfigError(PipelineConfigError):
    """A NetAdaptV2 config that lacks or misuses a field; the message names it."""


def _number(value, where: str, low=None, high=None, integer: bool = False, low_open: bool = False):
    return config_field_number(value, f'netadaptv2.{where}', low, high, integer, low_open, NAv2ConfigError)


def nav2_settings(cfg: Config) -> dict:
    """The ``netadaptv2`` dict of ``cfg`` with defaults filled in and every field checked."""
    d = config_method_dict(cfg, 'netadaptv2', _DEFAULTS, 'NetAdaptV2', NAv2ConfigError)
    check_derived_backbone(cfg, 'netadaptv2', 'the initial network', NAv2ConfigError, INITIAL_BACKBONES)
    out = {key: config_section(d, key, _DEFAULTS[key], f'netadaptv2.{key}', NAv2ConfigError)
           for key in ('seed', 'holdout', 'space', 'supernet', 'search', 'final', 'latency')}
    cost = dict(_DEFAULTS['cost'], **(d.get('cost') or {}))
    size = cost.get('input_size')
    if not size or len(size) != 2:
        raise NAv2ConfigError('netadaptv2.cost: missing field input_size=(H, W) (the image size of the resource)')
    cost['input_size'] = (int(size[0]), int(size[1]))
    out['cost'] = cost
    budget, ratio = d.get('budget'), d.get('budget_ratio')
    if (budget is None) == (ratio is None):
        raise NAv2ConfigError('netadaptv2: give exactly one of budget (the resource to reach) and budget_ratio '
                              "(a fraction of the seed's)")
    if budget is not None:
        _number(budget, 'budget', 0, low_open=True)
    else:
        _number(ratio, 'budget_ratio', 0, 1, low_open=True)
    out['budget'], out['budget_ratio'] = budget, ratio
    bypass = d.get('bypass', _DEFAULTS['bypass'])
    if bypass is not None:
        _number(bypass, 'bypass', 0, integer=True)
    out['bypass'] = bypass
    h = out['holdout']
    if isinstance(h['size'], float):
        _number(h['size'], 'holdout.size', 0, 1, low_open=True)
    else:
        _number(h['size'], 'holdout.size', 1, integer=True)
    sp = out['supernet']
    if sp['epochs'] is not None:
        _number(sp['epochs'], 'supernet.epochs', 1, integer=True)
    if sp['kernel_sampling'] not in ('batch', 'max'):
        raise NAv2ConfigError(f"netadaptv2.supernet.kernel_sampling {sp['kernel_sampling']!r} not allowed; "
                              "allowed: ['batch', 'max']")
    s = out['search']
    _number(s['num_samples'], 'search.num_samples', 1, integer=True)
    _number(s['num_layers'], 'search.num_layers', 1, integer=True)
    _number(s['r0'], 'search.r0', 0, 1, low_open=True)
    _number(s['decay'], 'search.decay', 0, 1, low_open=True)
    _number(s['recal_batches'], 'search.recal_batches', 0, integer=True)
    _number(s['eval_batch'], 'search.eval_batch', 1, integer=True)
    if s['criterion'] not in CRITERIA:
        raise NAv2ConfigError(f"netadaptv2.search.criterion {s['criterion']!r} not allowed; allowed: {list(CRITERIA)}")
    if s['eval_mode'] not in EVAL_MODES:
        raise NAv2ConfigError(f"netadaptv2.search.eval_mode {s['eval_mode']!r} not allowed; allowed: {list(EVAL_MODES)}")
    s['clamp'] = config_bool(s['clamp'], 'netadaptv2.search.clamp', NAv2ConfigError)
    f = out['final']
    if f['init'] not in INITS:
        raise NAv2ConfigError(f"netadaptv2.final.init {f['init']!r} not allowed; allowed: {list(INITS)}")
    if f['epochs'] is not None:
        _number(f['epochs'], 'final.epochs', 1, integer=True)
    _number(f['transfer_epochs'], 'final.transfer_epochs', 1, integer=True)
    _number(f['transfer_every'], 'final.transfer_every', 1, integer=True)
    out['compare'] = config_choice_list(d.get('compare', _DEFAULTS['compare']), 'netadaptv2.compare', COMPARES, NAv2ConfigError)
    ck = out['seed']['checkpoint']
    if ck is not None and not isinstance(ck, str):
        raise NAv2ConfigError(f"netadaptv2.seed.checkpoint must be a file, 'train' or None, got {ck!r}")
    if cfg.get('load_from'):
        raise NAv2ConfigError('netadaptv2: remove load_from; give the initial weights as netadaptv2.seed.checkpoint')
    w = out['space']['widths']
    if isinstance(w, int) and not isinstance(w, bool):
        _number(w, 'space.widths', 2, integer=True)
    return out
