"""Every DS-Net config builds its model and names a valid loop; the ImageNet configs' routing spaces
and sizes are the paper's (DS-MBNet's 19 widths, DS-ResNet's 256 routes, S/M/L restrictions)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmadapt  # noqa: F401
from mmadapt.methods.dsnet import route_madds

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'dsnet', '*.py')))
CONFIGS = [c for c in CONFIGS if not osp.basename(c).startswith('_')]


def build(cfg):
    scope = 'mmdet' if 'bbox_head' in cfg.model else 'mmpretrain'
    from mmengine.registry import DefaultScope
    import importlib
    registry = importlib.import_module(f'{scope}.registry').MODELS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg.model)


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_every_config_builds_with_a_dsnet_loop(path):
    cfg = Config.fromfile(path)
    assert cfg.train_cfg.type == 'mmadapt.DSNetLoop'
    assert cfg.train_cfg.stage1_epochs > 0 and cfg.train_cfg.stage2_epochs > 0
    assert {'type': 'mmadapt.DSNetStateHook'} in [dict(h) for h in cfg.custom_hooks]
    assert cfg.find_unused_parameters is True
    model = build(cfg)
    bb = model.backbone
    assert type(bb).__name__ == 'DSBackbone'
    if 'head' in cfg.model:
        assert cfg.model.head.in_channels == bb.out_channels[-1]
    if cfg.train_cfg.get('gate_choices'):
        bb.set_allowed_choices(cfg.train_cfg.gate_choices)


def _backbone(name):
    return build(Config.fromfile(osp.join(ROOT, 'configs', 'dsnet', name))).backbone


def test_the_paper_routing_spaces():
    mb = _backbone('dsmbnet_l_in1k.py')
    assert len(mb.routes) == 19  # rho in [0.35 : 0.05 : 1.25]
    widths = [s.stages[3].out_channels for s in mb.route_specs]
    assert widths[0] == 176 and widths[13] == 512 and widths[-1] == 640  # 0.35, 1.0 and 1.25 of 512
    assert [s.stages[4].out_channels for s in mb.route_specs][13] == 1024
    fixed = mb.route_specs[0].stages
    assert [fixed[i].out_channels for i in range(3)] == [32, 64, 128] and mb.route_specs[0].stem['out_channels'] == 16
    # S routes over rho in [0.35 : 0.05 : 0.5]
    assert Config.fromfile(osp.join(ROOT, 'configs', 'dsnet', 'dsmbnet_s_in1k.py')).train_cfg.gate_choices == [[0, 1, 2, 3]]
    rn = _backbone('dsresnet_l_in1k.py')
    assert len(rn.routes) == 256 and rn.num_choices == [4, 4, 4, 4]
    costs = route_madds(rn, (224, 224), 1000)
    # ResNet-50's 4.1G at the widest route (plus the attention heads' 1x1 convs on pooled vectors)
    assert 4.09e9 < float(costs.max()) < 4.11e9
    assert 0.38e9 < float(costs.min()) < 0.40e9  # the stem stays at 64 channels
    for name, lam in (('dsresnet_l_in1k.py', (0.0, 0.0, 1.0)), ('dsresnet_m_in1k.py', (1.0, 0.5, 1.0)),
                      ('dsresnet_s_in1k.py', (0.0, 0.5, 1.0))):
        assert tuple(Config.fromfile(osp.join(ROOT, 'configs', 'dsnet', name)).train_cfg.lambdas) == lam
