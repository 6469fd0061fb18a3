"""The shapes variants of the FNA configs run the whole pipeline (search, derive, remap, adapt, test)."""
import json
import os
import os.path as osp
import subprocess

import pytest
import torch
from mmengine.config import Config

from ..conftest import ROOT, data_options, python, tool

CASES = {
    # config -> extra options
    'retinanet_mbv2_shapes': {'model.test_cfg.score_thr': 0.0},
    'retinanet_r18_shapes': {'model.test_cfg.score_thr': 0.0},  # the ResNet super-net
    'simplebaseline_mbv2_shapes': {},
    'deeplabv3_mbv2_shapes': {'fna.param.train_cfg.max_iters': 2, 'fna.param.train_cfg.val_interval': 2},
    'ssdlite_mbv2_shapes': {'model.test_cfg.score_thr': 0.0},
}


@pytest.fixture(scope='module')
def random_seed(tmp_path_factory):
    """A randomly initialised seed checkpoint (mmadapt format) for a spec, written once per spec."""
    from mmadapt.models import build_spec_backbone
    folder, paths = tmp_path_factory.mktemp('seed'), {}

    def make(spec):
        if spec not in paths:
            torch.manual_seed(0)
            paths[spec] = folder / f'{spec}.pth'
            state = build_spec_backbone(spec).state_dict()
            torch.save({'state_dict': {f'backbone.{k}': v for k, v in state.items()}}, paths[spec])
        return paths[spec]
    return make


@pytest.mark.parametrize('name', sorted(CASES))
def test_shapes_variant_runs_the_pipeline(name, shapes_root, random_seed, tmp_path):
    config = osp.join(ROOT, f'configs/fna/{name}.py')
    cfg = Config.fromfile(config)
    task, seed = cfg.shapes.task, random_seed(cfg.fna.seed.spec)
    data = shapes_root / task
    opts = {**data_options(data, name), 'fna.seed.checkpoint': str(seed), 'train_cfg.max_epochs': 1,
            'train_cfg.warmup_epochs': 0, 'train_cfg.val_interval': 1, 'train_dataloader.batch_size': 4}
    if task != 'seg':  # the segmentation schedules count iterations
        opts.update({'fna.param.train_cfg.max_epochs': 1, 'fna.param.train_cfg.val_interval': 1})
    opts.update(CASES[name])
    if task != 'seg':
        ann = data / 'annotations' / 'val.json'
        opts['val_evaluator.0.ann_file' if task == 'pose' else 'val_evaluator.ann_file'] = str(ann)
        opts['test_evaluator.0.ann_file' if task == 'pose' else 'test_evaluator.ann_file'] = str(ann)
    work = tmp_path / name
    proc = subprocess.run([python(), tool('train.py'), config, '--work-dir',
                           str(work), '--cfg-options'] + [f'{k}={v}' for k, v in opts.items()], cwd=ROOT,
                          capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    summary = json.loads((work / 'summary.json').read_text())
    adapted = summary['networks']['adapted']
    assert adapted['metrics'] and adapted['madds'] > 0
    assert (work / 'arch' / 'derived.png').is_file() and (work / 'param' / 'init.pth').is_file()
