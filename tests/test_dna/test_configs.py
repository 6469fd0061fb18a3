"""Every DNA config builds: its settings validate, its seed's search space and bank exist, its budget is
reachable; bad settings are refused by name."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from mmadapt.methods.dna.settings import DNAConfigError, dna_settings

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', 'dna', '*.py')) if not osp.basename(p).startswith('_'))


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_config_settings_space_and_budget(path):
    from mmadapt.methods.dna.pipeline import search_setup
    cfg = Config.fromfile(path)
    setup = search_setup(cfg, dna_settings(cfg))  # also refuses a budget the search cannot reach
    space = setup['space']
    assert space.chains
    assert setup['budget'] > 0
    assert space.cost_of(setup['bank']) > setup['seed_cost']


def test_paper_budgets_of_the_imagenet_configs():
    """MAdds as the paper counts them (conv + FC at 224): the seeds of Tables 1-3."""
    from mmadapt.cost import classifier_cost
    assert classifier_cost('mobilenet_v2', 1000).madds == pytest.approx(300.8e6, rel=1e-3)
    assert classifier_cost('resnet18', 1000).madds == pytest.approx(1.814e9, rel=1e-3)
    assert classifier_cost('resnet50', 1000).madds == pytest.approx(4.089e9, rel=1e-3)
    # torchvision's mobilenet_v2(width_mult=0.5): 1,968,680 parameters
    assert classifier_cost('mobilenet_v2_x0.5', 1000).params == 1968680


@pytest.mark.parametrize('key,value,match', [
    ('dna.budget', 1e6, 'exactly one of budget'),
    ('dna.bogus', 1, r"unknown field\(s\) \['bogus'\]"),
    ('dna.search.derive', 'median', "derive 'median' not allowed"),
    ('dna.search.width', False, None),
    ('dna.target.init', 'imagenet', "init 'imagenet' not allowed"),
    ('dna.compare', ['seed', 'teacher'], 'unknown entries'),
    ('model.backbone.type', 'mmadapt.SuperMobileNetV2', 'must be one of'),
    ('load_from', 'x.pth', 'remove load_from'),
    ('dna.cost.input_size', None, 'input_size'),
])
def test_bad_settings_are_named(key, value, match):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'dna', 'mobilenetv2_shapes.py'))
    cfg.merge_from_dict({key: value})
    if key == 'dna.search.width':  # width and depth both off
        cfg.merge_from_dict({'dna.search.depth': False})
        match = 'both off'
    with pytest.raises(DNAConfigError, match=match):
        dna_settings(cfg)


def test_unreachable_budget_is_refused_before_anything_runs():
    from mmadapt.cost.rescale import BudgetError
    from mmadapt.methods.dna.pipeline import run_pipeline
    with pytest.raises(BudgetError, match='cannot be met'):
        run_pipeline(osp.join(ROOT, 'configs', 'dna', 'mobilenetv2_shapes.py'), work_dir='/nonexistent/never',
                     cfg_options={'dna.budget_ratio': 0.01})
