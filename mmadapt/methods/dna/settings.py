"""The ``dna`` dict of a config: every field, its default, and its check.

::

    dna = dict(
        seed=dict(spec=None,          # default: model.backbone.spec (a derived spec)
                  checkpoint=None),   # the seed's weights: a file (any format mmadapt remaps), 'train'
                                      # (the pipeline trains the seed with the config's recipe first), or None
        budget=None,                  # F_T in MAdds, or
        budget_ratio=None,            # F_T as a fraction of the seed's MAdds (one of the two)
        search=dict(rounds=25, warmup_epochs=15, phase1_epochs=1.5, phase2_epochs=0.5, num_subnets=2,
                    groups=10, max_groups=20, max_blocks=2, width=True, depth=True, lam=0.1,
                    budget_loss='log', arch_optim=dict(type='Adam', lr=0.01), arch_ratio=0.25,
                    alpha_std=0.0, carry_alphas=True, derive='expected', lr_min_ratio=0.1,
                    optim_wrapper=None),   # None: the config's optim_wrapper
        cost=dict(input_size=(224, 224),   # (H, W) of the MAdds
                  num_classes=None),       # count the classifier's FC (None: backbone only)
        target=dict(init='scratch',        # 'scratch' (the paper) or 'supernet' (exported from the search)
                    epochs=None,           # epochs of the target (and the other rows); None: the config's
                    markov=0,              # also train this many Markov-sampled networks (Table 4)
                    markov_tolerance=0.01),
        compare=('seed', 'uniform'),  # also train the seed and the uniformly scaled seed of equal MAdds
        compare_init='scratch',       # 'seed': the uniform row starts from the seed's weights (leading
                                      # channels) and the seed row is the seed trained on, both for
                                      # target.epochs (use with target.init='supernet')
    )
"""
from mmengine.config import Config

from mmadapt.engine.pipeline import PipelineConfigError
from mmadapt.utils.config_values import (check_derived_backbone, config_bool, config_choice_list, config_field_number,
                                          config_method_dict, config_section)

from .loop import BUDGET_LOSSES, DERIVES

INITS = ('scratch', 'supernet')
COMPARES = ('seed', 'uniform')
COMPARE_INITS = ('scratch', 'seed')

_DEFAULTS = dict(
    seed=dict(spec=None, checkpoint=None),
    budget=None,
    budget_ratio=None,
    search=dict(rounds=25, warmup_epochs=15, phase1_epochs=1.5, phase2_epochs=0.5, num_subnets=2, groups=10,
                max_groups=20, max_blocks=2, width=True, depth=True, lam=0.1, budget_loss='log', arch_optim=None,
                arch_ratio=0.25, alpha_std=0.0, carry_alphas=True, derive='expected', lr_min_ratio=0.1,
                optim_wrapper=None),
    cost=dict(input_size=None, num_classes=None),
    target=dict(init='scratch', epochs=None, markov=0, markov_tolerance=0.01),
    compare=('seed', 'uniform'),
    compare_init='scratch',
)


class DNAConfigError(PipelineConfigError):
    """A DNA config that lacks or misuses a field; the message names it."""


def _section(d: dict, key: str) -> dict:
    return config_section(d, key, _DEFAULTS[key], f'dna.{key}', DNAConfigError)


def _number(value, where: str, low=None, high=None, integer: bool = False, low_open: bool = False):
    return config_field_number(value, f'dna.{where}', low, high, integer, low_open, DNAConfigError)


def dna_settings(cfg: Config) -> dict:
    """The ``dna`` dict of ``cfg`` with defaults filled in and every field checked."""
    d = config_method_dict(cfg, 'dna', _DEFAULTS, 'DNA', DNAConfigError)
    backbone = check_derived_backbone(cfg, 'dna', 'the seed network', DNAConfigError)
    out = {key: _section(d, key) for key in ('seed', 'search', 'cost', 'target')}
    if out['seed']['spec'] is None:
        if backbone.get('spec') is None:
            raise DNAConfigError("dna.seed: missing field 'spec' (and model.backbone has no spec)")
        out['seed']['spec'] = backbone['spec']
    budget, ratio = d.get('budget'), d.get('budget_ratio')
    if (budget is None) == (ratio is None):
        raise DNAConfigError('dna: give exactly one of budget (MAdds) and budget_ratio (of the seed\'s MAdds)')
    if budget is not None:
        _number(budget, 'budget', 0, low_open=True)
    else:
        _number(ratio, 'budget_ratio', 0, 10, low_open=True)
    out['budget'], out['budget_ratio'] = budget, ratio
    s = out['search']
    _number(s['rounds'], 'search.rounds', 1, integer=True)
    _number(s['warmup_epochs'], 'search.warmup_epochs', 0)
    _number(s['phase1_epochs'], 'search.phase1_epochs', 0)
    _number(s['phase2_epochs'], 'search.phase2_epochs', 0, low_open=True)
    _number(s['num_subnets'], 'search.num_subnets', 0, integer=True)
    _number(s['groups'], 'search.groups', 1, integer=True)
    _number(s['max_groups'], 'search.max_groups', s['groups'], integer=True)
    if isinstance(s['max_blocks'], (list, tuple)):
        s['max_blocks'] = [_number(m, 'search.max_blocks[]', 1, integer=True) for m in s['max_blocks']]
    else:
        _number(s['max_blocks'], 'search.max_blocks', 0, integer=True)
    for key in ('width', 'depth', 'carry_alphas'):
        s[key] = config_bool(s[key], f'dna.search.{key}', DNAConfigError)
    if not (s['width'] or s['depth']):
        raise DNAConfigError('dna.search: width and depth are both off; DNA searches at least one of them')
    _number(s['lam'], 'search.lam', 0)
    if s['budget_loss'] not in BUDGET_LOSSES:
        raise DNAConfigError(f"dna.search.budget_loss {s['budget_loss']!r} not allowed; allowed: {list(BUDGET_LOSSES)}")
    if s['derive'] not in DERIVES:
        raise DNAConfigError(f"dna.search.derive {s['derive']!r} not allowed; allowed: {list(DERIVES)}")
    _number(s['arch_ratio'], 'search.arch_ratio', 0, 0.9, low_open=True)
    _number(s['alpha_std'], 'search.alpha_std', 0)
    _number(s['lr_min_ratio'], 'search.lr_min_ratio', 0, 1)
    c = out['cost']
    size = c['input_size']
    if not size or len(size) != 2:
        raise DNAConfigError('dna.cost: missing field input_size=(H, W) (the image size of the MAdds)')
    c['input_size'] = (int(size[0]), int(size[1]))
    if c['num_classes'] is not None:
        _number(c['num_classes'], 'cost.num_classes', 1, integer=True)
    t = out['target']
    if t['init'] not in INITS:
        raise DNAConfigError(f"dna.target.init {t['init']!r} not allowed; allowed: {list(INITS)}")
    _number(t['markov'], 'target.markov', 0, integer=True)
    if t['epochs'] is not None:
        _number(t['epochs'], 'target.epochs', 1, integer=True)
    out['compare_init'] = d.get('compare_init', 'scratch')
    if out['compare_init'] not in COMPARE_INITS:
        raise DNAConfigError(f"dna.compare_init {out['compare_init']!r} not allowed; allowed: {list(COMPARE_INITS)}")
    _number(t['markov_tolerance'], 'target.markov_tolerance', 0, 0.5, low_open=True)
    out['compare'] = config_choice_list(d.get('compare', _DEFAULTS['compare']), 'dna.compare', COMPARES, DNAConfigError)
    ck = out['seed']['checkpoint']
    if ck is not None and not isinstance(ck, str):
        raise DNAConfigError(f"dna.seed.checkpoint must be a file, 'train' or None, got {ck!r}")
    if cfg.get('load_from'):
        raise DNAConfigError('dna: remove load_from; give the seed weights as dna.seed.checkpoint (the pipeline '
                             'remaps them into the search network)')
    return out
