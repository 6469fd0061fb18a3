"""Every NetAdaptV2 config builds its model, passes the settings check, and builds its super-network,
search space and search config; the built-in-data variants keep their paper configs' method settings;
the paper hyper-parameters (J, L, r0, d, width grids) are the ones of Sec. 4.1.1 and App. D."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmadapt  # noqa: F401  (registers the loops and hooks)
from mmadapt.cost.config_cost import build_model_from_config
from mmadapt.methods.netadaptv2 import NAv2Space
from mmadapt.methods.netadaptv2.pipeline import max_spec_of, search_config, supernet_config
from mmadapt.methods.netadaptv2.settings import nav2_settings

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIGS = sorted(c for c in glob.glob(osp.join(ROOT, 'configs', 'netadaptv2', '*.py'))
                 if not osp.basename(c).startswith('_'))


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_every_config_builds(path, tmp_path):
    cfg = Config.fromfile(path)
    nav2 = nav2_settings(cfg)
    model = build_model_from_config(cfg)
    seed, max_spec = max_spec_of(cfg, nav2)
    assert model.backbone.spec.to_dict() == seed.to_dict()
    space = NAv2Space(max_spec, **nav2['space'])
    assert len(space.layers) > 5
    scfg = supernet_config(cfg, nav2, max_spec, str(tmp_path / 'h.json'), None)
    assert any('OrderedDropoutHook' in str(h['type']) for h in scfg.custom_hooks)
    elastic = build_model_from_config(scfg)
    assert type(elastic.backbone).__name__.startswith('Elastic')
    kcfg = search_config(cfg, nav2, max_spec, str(tmp_path / 'h.json'), 'x.pth', 1.0, nav2['cost'])
    assert kcfg.train_cfg.type == 'mmadapt.MCDSearchLoop' and kcfg.val_dataloader.dataset.key == 'holdout'


def _nav2(name):
    return nav2_settings(Config.fromfile(osp.join(ROOT, 'configs', 'netadaptv2', name)))


def test_paper_hyper_parameters():
    lat, mac = _nav2('mobilenetv3_latency_in1k.py'), _nav2('mobilenetv3_madds_in1k.py')
    assert (lat['search']['num_samples'], lat['search']['num_layers'], lat['search']['r0'], lat['search']['decay'],
            lat['space']['widths']) == (200, 10, 0.03, 0.98, 9)
    assert (mac['search']['num_samples'], mac['search']['num_layers'], mac['search']['r0'], mac['search']['decay'],
            mac['space']['widths']) == (200, 15, 0.025, 0.98, 11)
    assert lat['holdout']['size'] == mac['holdout']['size'] == 10000
    assert lat['cost']['type'] == 'latency' and mac['cost']['type'] == 'madds'
    v1, scd = _nav2('mobilenetv1_in1k.py'), _nav2('mobilenetv1_scd_in1k.py')
    assert (v1['search']['num_samples'], v1['search']['num_layers']) == (27, 4)
    assert (scd['search']['num_samples'], scd['search']['num_layers']) == (28, 1)


@pytest.mark.parametrize('shapes,paper', [('mobilenetv3_latency_shapes.py', 'mobilenetv3_latency_in1k.py'),
                                          ('mobilenetv3_madds_shapes.py', 'mobilenetv3_madds_in1k.py')])
def test_shapes_variants_keep_the_method(shapes, paper):
    a, b = _nav2(shapes), _nav2(paper)
    assert a['space'] == b['space'] and a['bypass'] == b['bypass']
    for key in ('num_layers', 'r0', 'decay', 'criterion'):
        assert a['search'][key] == b['search'][key]
    assert a['cost']['type'] == b['cost']['type']
    assert Config.fromfile(osp.join(ROOT, 'configs', 'netadaptv2', shapes)).model.backbone.spec == \
        Config.fromfile(osp.join(ROOT, 'configs', 'netadaptv2', paper)).model.backbone.spec
