"""The shapes variants of the FNA configs run the whole pipeline (search, derive, remap, adapt, test)."""
import json
import os
import os.path as osp
import subprocess

import pytest
import torch

from ..conftest import ROOT, data_options, python, tool

CASES = {
    # config -> (shapes set, extra options)
    'retinanet_mbv2_shapes': ('det', {'model.test_cfg.score_thr': 0.0}),
    'retinanet_r18_shapes': ('det', {'model.test_cfg.score_thr': 0.0}),  # the ResNet super-net
    'simplebaseline_mbv2_shapes': ('pose', {}),
    'deeplabv3_mbv2_shapes': ('seg', {'fna.param.train_cfg.max_iters': 2, 'fna.param.train_cfg.val_interval': 2}),
    'ssdlite_mbv2_shapes': ('det', {'model.test_cfg.score_thr': 0.0}),
}


@pytest.fixture(scope='module')
def random_seeds(tmp_path_factory):
    """Randomly initialised seed checkpoints (mmadapt format): MobileNetV2 and ResNet-18."""
    from mmadapt.models import DerivedMobileNetV2, DerivedResNet
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp('seed')
    seeds = {}
    for name, net in (('mobilenet_v2', DerivedMobileNetV2()), ('resnet18', DerivedResNet(spec='resnet18'))):
        seeds[name] = folder / f'{name}.pth'
        torch.save({'state_dict': {f'backbone.{k}': v for k, v in net.state_dict().items()}}, seeds[name])
    return seeds


@pytest.mark.parametrize('name', sorted(CASES))
def test_shapes_variant_runs_the_pipeline(name, shapes_root, random_seeds, tmp_path):
    task, extra = CASES[name]
    data = shapes_root / task
    seed = random_seeds['resnet18' if '_r18' in name else 'mobilenet_v2']
    opts = {**data_options(data, name), 'fna.seed.checkpoint': str(seed), 'train_cfg.max_epochs': 1,
            'train_cfg.warmup_epochs': 0, 'train_cfg.val_interval': 1, 'train_dataloader.batch_size': 4}
    if task != 'seg':  # the segmentation schedules count iterations
        opts.update({'fna.param.train_cfg.max_epochs': 1, 'fna.param.train_cfg.val_interval': 1})
    opts.update(extra)
    if task != 'seg':
        ann = data / 'annotations' / 'val.json'
        opts['val_evaluator.0.ann_file' if task == 'pose' else 'val_evaluator.ann_file'] = str(ann)
        opts['test_evaluator.0.ann_file' if task == 'pose' else 'test_evaluator.ann_file'] = str(ann)
    work = tmp_path / name
    proc = subprocess.run([python(), tool('train.py'), osp.join(ROOT, f'configs/fna/{name}.py'), '--work-dir',
                           str(work), '--cfg-options'] + [f'{k}={v}' for k, v in opts.items()], cwd=ROOT,
                          capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    summary = json.loads((work / 'summary.json').read_text())
    adapted = summary['networks']['adapted']
    assert adapted['metrics'] and adapted['madds'] > 0
    assert (work / 'arch' / 'derived.png').is_file() and (work / 'param' / 'init.pth').is_file()
