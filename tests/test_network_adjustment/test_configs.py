"""Every Network Adjustment config loads, passes the settings check, counts the paper's MAdds for its
seed, and builds the model of a round (the neck or head reading the round's widths)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmadapt.arch import load_spec
from mmadapt.arch.widths import set_widths
from mmadapt.methods.network_adjustment import na_settings
from mmadapt.engine.pipeline import fit_input_widths
from mmadapt.methods.network_adjustment.pipeline import RoundCost

ROOT = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'network_adjustment')
CONFIGS = sorted(glob.glob(osp.join(ROOT, '*.py')))

# MAdds of the seed with its classifier, at the config's input size (stem conv and FC included)
PAPER = {'resnet20_cifar100.py': 40_556_800, 'resnet32_cifar100.py': 68_868_352, 'resnet56_cifar100.py': 125_491_456,
         'resnet110_cifar100.py': 252_893_440, 'resnet18_in1k.py': 1_814_073_344,
         'resnet18_x0.8_in1k.py': 1_171_139_520, 'mobilenetv2_in1k.py': 300_774_272}


def test_the_configs_are_there():
    names = {osp.basename(c) for c in CONFIGS}
    assert set(PAPER) <= names
    for name in ('resnet20', 'resnet32', 'resnet56', 'resnet110', 'resnet18', 'resnet18_x0.8', 'mobilenetv2'):
        assert f'{name}_shapes.py' in names  # each with a variant on the built-in data
    assert 'retinanet_mbv2_shapes.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_settings_and_seed_cost(path):
    cfg = Config.fromfile(path)
    na = na_settings(cfg)
    seed = load_spec(na['seed']['spec'])
    out_indices = cfg.model.backbone.get('out_indices')
    n = len(seed.stages) if out_indices is None else max(out_indices) + 1
    cost = RoundCost(na, out_indices, min(n, len(seed.stages)))
    if osp.basename(path) in PAPER:
        assert cost(seed) == PAPER[osp.basename(path)]
    assert len(cost.sensitivities(seed)) > 0


@pytest.mark.parametrize('name', [osp.basename(c) for c in CONFIGS])
def test_a_round_model_builds_with_the_rounds_widths(name):
    import torch
    from mmengine.registry import MODELS, init_default_scope
    cfg = Config.fromfile(osp.join(ROOT, name))
    na = na_settings(cfg)
    seed = load_spec(na['seed']['spec'])
    out_indices = cfg.model.backbone.get('out_indices')
    n = min(max(out_indices) + 1, len(seed.stages))
    from mmadapt.arch.widths import get_widths
    widths = [w + 3 for w in get_widths(seed, n)]
    spec = set_widths(seed, widths, n)
    model_cfg = cfg.model.copy()
    model_cfg.backbone.spec = spec.to_dict()
    fit_input_widths(model_cfg, spec)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    model = MODELS.build(model_cfg)
    feats = model.extract_feat(torch.randn(1, 3, 64, 64))
    assert feats is not None


def test_latency_is_a_cost_beside_madds():
    """cost.type='latency': a lazy latency table predicts each spec; sensitivities by finite differences."""
    cfg = Config.fromfile(osp.join(ROOT, 'resnet20_shapes.py'))
    cfg.merge_from_dict({'network_adjustment.cost.type': 'latency',
                         'network_adjustment.cost.table': dict(lazy=True, warmup=1, repeats=3),
                         'network_adjustment.cost.input_size': (16, 16)})
    na = na_settings(cfg)
    seed = load_spec('resnet20_cifar')
    cost = RoundCost(na, (2, ), 3)
    assert cost.unit == 'ms'
    base = cost(seed)
    assert base > 0 and cost(seed) == base  # entries are measured once, then looked up
    sens = cost.sensitivities(seed)
    assert len(sens) == 18 and all(s > 0 for s in sens)
