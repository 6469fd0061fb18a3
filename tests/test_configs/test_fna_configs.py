"""Every FNA config builds, and the seed rows reproduce the paper's model sizes (FNA++ Tables 4, 6, 8, 10)."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

from ..conftest import ROOT

FNA_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/fna/*.py')))
PROJECT_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'projects/*/configs/*.py')))
IMAGENET_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/imagenet/*.py')))

# config -> (input H, W, params, MAdds, transposed-conv convention); the paper's numbers
PAPER = {
    'retinanet_mbv2_seed': ((800, 1088), 11.49e6, 133.05e9, 'input'),
    'retinanet_r18_seed': ((800, 1088), 21.41e6, 160.28e9, 'input'),
    'retinanet_r50_seed': ((800, 1088), 37.97e6, 202.84e9, 'input'),
    'retinanet_fbnetc_seed': ((800, 1088), 12.65e6, 134.17e9, 'input'),
    'retinanet_proxyless_seed': ((800, 1088), 12.07e6, 133.42e9, 'input'),
    'simplebaseline_mbv2_seed': ((256, 256), 5.23e6, 6.09e9, 'output'),  # the paper's deconv convention
    'ssdlite_mbv2_seed': ((320, 320), 4.3e6, None, 'input'),  # MAdds: see the config (0.75B vs 0.8B)
    'deeplabv3_mbv2_seed': ((1024, 2048), 2.57e6, 24.52e9, 'input'),
}
# ImageNet classifiers (the papers' seed figures at 224x224)
IMAGENET = {
    'mobilenetv2_in1k': (3.5e6, 300e6),
    'resnet18_in1k': (11.69e6, 1.8e9),
    'resnet50_in1k': (25.56e6, 4.1e9),
}


def test_every_fna_config_is_listed():
    names = {osp.splitext(osp.basename(p))[0] for p in FNA_CONFIGS}
    for name in PAPER:
        assert name in names
        assert name.replace('_seed', '') in names, 'each seed config has its FNA config beside it'


@pytest.mark.parametrize('path', FNA_CONFIGS + PROJECT_CONFIGS + IMAGENET_CONFIGS, ids=lambda p: osp.basename(p))
def test_fna_and_project_configs_build(path, in_root):
    from mmadapt.cost.config_cost import build_model_from_config
    from mmadapt.engine.fna import fna_settings
    cfg = Config.fromfile(path)
    if 'fna' in cfg:
        cfg.fna.seed.checkpoint = 'seed.pth'
        fna = fna_settings(cfg)
        assert cfg.train_cfg.type == 'mmadapt.ArchAdaptLoop'
        assert tuple(cfg.train_cfg.cost_input_size) == fna['cost_input_size']
        from mmadapt.engine.fna import _param_config
        pcfg = _param_config(cfg, fna, fna['seed']['spec'], 'seed', None, '/nonexistent')
        assert pcfg.model.backbone.type.startswith('mmadapt.Derived')
        assert pcfg.train_cfg.type in ('EpochBasedTrainLoop', 'IterBasedTrainLoop')
    model = build_model_from_config(cfg)
    backbone = model.backbone
    assert type(backbone).__name__ in ('SuperMobileNetV2', 'SuperResNet', 'DerivedMobileNetV2', 'DerivedResNet',
                                       'ToyNet')


@pytest.mark.parametrize('path', FNA_CONFIGS + PROJECT_CONFIGS + IMAGENET_CONFIGS, ids=lambda p: osp.basename(p))
def test_config_pipelines_and_shapes_datasets_build(path, in_root, shapes_root):
    """Every data pipeline of every config builds; a config on the built-in data loads a sample of each
    split from generated files through its own pipeline."""
    from mmengine.dataset import Compose
    from mmengine.registry import DATASETS, init_default_scope

    from mmadapt.utils import iter_datasets
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmadapt'))
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        leaves = list(iter_datasets(cfg[name].dataset))
        assert leaves, f'{name} has no dataset'
        for ds in leaves:
            assert len(Compose(ds.pipeline).transforms) == len(ds.pipeline)
        if 'shapes' not in cfg:  # the paper's data sets (COCO, Cityscapes, MPII, ImageNet) are not here
            continue
        for ds in leaves:
            ds.data_root = str(shapes_root / cfg.shapes.task) + '/'
        dataset = DATASETS.build(cfg[name].dataset)
        sample = dataset[0]
        assert 'inputs' in sample and 'data_samples' in sample
        inputs = sample['inputs']
        assert inputs.shape[0] == 3 and 0 < min(inputs.shape[-2:]) and max(inputs.shape[-2:]) <= 192, inputs.shape


def test_shapes_variants_inherit_their_paper_config():
    """Each paper config has a shapes variant whose first base is that config and which keeps its
    method settings (search space, loop, lambda, split, remapping, parameter init, BN recalibration);
    a variant with a budget (``cost_target``, which the paper configs never set) has its own lambda."""
    import ast

    from mmadapt.engine.fna import fna_settings
    paper = [p for p in FNA_CONFIGS if not p.endswith(('_seed.py', '_shapes.py'))]
    assert len(paper) == 11
    for path in paper:
        shapes = path[:-3] + '_shapes.py'
        assert osp.isfile(shapes), f'{osp.basename(path)} has no shapes variant'
        tree = ast.parse(open(shapes, encoding='utf-8').read())
        base = next(ast.literal_eval(n.value) for n in tree.body
                     if isinstance(n, ast.Assign) and n.targets[0].id == '_base_')
        base = base if isinstance(base, str) else base[0]
        assert base == './' + osp.basename(path), (shapes, base)
        real, small = Config.fromfile(path), Config.fromfile(shapes)
        for key in ('type', 'spec', 'out_indices'):
            assert real.model.backbone[key] == small.model.backbone[key], (shapes, key)
        # lambda too, unless the variant searches with a budget (beyond the paper; it has its own lambda)
        keys = ('type', 'arch_ratio', 'weight_steps') + (('lam', ) if small.train_cfg.get('cost_target') is None else ())
        assert real.train_cfg.get('cost_target') is None
        for key in keys:
            assert real.train_cfg.get(key) == small.train_cfg.get(key), (shapes, key)
        assert real.train_cfg.arch_optim.type == small.train_cfg.arch_optim.type
        real.fna.seed.checkpoint = small.fna.seed.checkpoint = 'seed.pth'
        real_fna, small_fna = fna_settings(real), fna_settings(small)
        for key in ('seed', 'search', 'arch', 'seed_baseline'):
            assert real_fna[key] == small_fna[key], (shapes, key)
        for key in ('init', 'bn_recalib'):
            assert real_fna['param'][key] == small_fna['param'][key], (shapes, key)
        assert real.model.get('type') == small.model.get('type')
        head = 'bbox_head' if 'bbox_head' in real.model else 'decode_head' if 'decode_head' in real.model else 'head'
        assert real.model[head].type == small.model[head].type


@pytest.mark.parametrize('name', sorted(PAPER))
def test_seed_models_match_the_paper(name, in_root):
    from mmadapt.cost.config_cost import count_config
    size, params, madds, transposed = PAPER[name]
    result = count_config(osp.join(ROOT, f'configs/fna/{name}.py'), size, transposed=transposed)
    assert abs(result.model.params - params) / params < 0.03, result.model.params
    if madds is not None:
        assert abs(result.model.madds - madds) / madds < 0.03, result.model.madds
    else:
        assert round(result.model.madds / 1e6) == 746  # the number the config documents


@pytest.mark.parametrize('name', sorted(IMAGENET))
def test_imagenet_seeds(name, in_root):
    from mmadapt.cost.config_cost import count_config
    params, madds = IMAGENET[name]
    result = count_config(osp.join(ROOT, f'configs/imagenet/{name}.py'), (224, 224))
    assert abs(result.model.params - params) / params < 0.01 and abs(result.model.madds - madds) / madds < 0.01
