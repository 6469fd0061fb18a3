"""mmadapt's registries are reachable from the frameworks' scopes; ResultsHook; launch checks."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

import mmadapt  # noqa: F401
from mmadapt.engine import ResultsHook, prepare_config
from mmadapt.registry import HOOKS, MODEL_WRAPPERS
from mmadapt.utils import DataNotFoundError, check_data

from ..conftest import ROOT


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg', 'mmpose', 'mmpretrain'])
def test_frameworks_reach_mmadapt_modules_by_prefix(scope):
    import importlib

    from mmengine.registry import DefaultScope
    registry = importlib.import_module(f'{scope}.registry')
    with DefaultScope.overwrite_default_scope(scope):
        hook = registry.HOOKS.build(dict(type='mmadapt.ResultsHook', filename='r.json'))
        assert isinstance(hook, ResultsHook) and hook.filename == 'r.json'
        assert registry.MODEL_WRAPPERS.get('mmadapt.DeviceAwareDDP') is \
            MODEL_WRAPPERS.get('DeviceAwareDDP')
    assert HOOKS.scope == 'mmadapt' and HOOKS.parent.scope == 'mmengine'


def test_results_hook_rejects_paths():
    with pytest.raises(ValueError, match='plain file name'):
        ResultsHook(filename='../x.json')


def test_results_hook_writes_every_evaluation(tmp_path):
    class FakeRunner:
        work_dir = str(tmp_path)
        epoch, iter = 2, 40
        cfg = Config(dict(load_from='ckpt.pth'))

        class logger:  # noqa: N801
            @staticmethod
            def info(msg):
                pass

    import numpy as np
    import torch
    hook = ResultsHook()
    hook.after_val_epoch(FakeRunner, dict(mAP=np.float64(0.5), n=torch.tensor(3)))
    hook.after_val_epoch(FakeRunner, dict(mAP=0.75))
    hook.after_test_epoch(FakeRunner, dict(mAP=0.7))
    results = json.loads((tmp_path / 'results.json').read_text())
    assert [v['metrics']['mAP'] for v in results['val']] == [0.5, 0.75]
    assert results['val'][0]['metrics']['n'] == 3 and results['val'][0]['iter'] == 40
    assert results['test'] == dict(metrics=dict(mAP=0.7), checkpoint='ckpt.pth')
    hook.after_test_epoch(FakeRunner, {})  # e.g. no detection above the score threshold
    results = json.loads((tmp_path / 'results.json').read_text())
    assert results['test']['metrics'] == {} and len(results['val']) == 2


def test_missing_shapes_data_says_how_to_generate_it(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/baselines/retinanet_mbv2_shapes.py'))
    missing = str(tmp_path / 'nowhere') + '/'
    cfg.merge_from_dict({'data_root': missing, 'train_dataloader.dataset.data_root': missing})
    with pytest.raises(DataNotFoundError) as err:
        check_data(cfg)
    msg = str(err.value)
    assert f'train_dataloader: {missing}' in msg
    assert (f'python tools/data/make_shapes.py --task det --out {missing.rstrip("/")} '
            '--num-train 800 --num-val 100 --size 128 --seed 0') in msg
    # the root is reported once, not every file below it
    assert 'annotations/train.json' not in msg


def test_missing_real_data_points_at_data_root(tmp_path):
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='CocoDataset', data_root=str(tmp_path / 'coco'), ann_file='a.json'))))
    with pytest.raises(DataNotFoundError, match='Point data_root'):
        check_data(cfg)


def test_prepare_config_errors_and_defaults(in_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='config file not found: nope.py'):
        prepare_config('nope.py')
    cfg_path = 'configs/baselines/mobilenetv2_shapes_cls.py'
    opts = {'data_root': str(tmp_path), 'train_dataloader.dataset.data_root': str(tmp_path),
            'val_dataloader.dataset.data_root': str(tmp_path)}
    (tmp_path / 'meta').mkdir()
    for p in ('meta/train.txt', 'meta/val.txt'):
        (tmp_path / p).write_text('')
    (tmp_path / 'train').mkdir()
    (tmp_path / 'val').mkdir()
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match='--amp needs a CUDA device'):
            prepare_config(cfg_path, cfg_options=opts, amp=True)
    with pytest.raises(FileNotFoundError, match='--resume checkpoint not found'):
        prepare_config(cfg_path, cfg_options=opts, resume=str(tmp_path / 'x.pth'))
    cfg = prepare_config(cfg_path, cfg_options=opts, resume='auto')
    assert cfg.work_dir == './work_dirs/mobilenetv2_shapes_cls'
    # resume is on only where the work dir holds a checkpoint to resume from
    from mmadapt.utils.checkpoint import latest_checkpoint
    found = osp.isdir(cfg.work_dir) and latest_checkpoint(cfg.work_dir) is not None
    assert cfg.resume is found
    assert [h['type'] for h in cfg.custom_hooks].count('mmadapt.ResultsHook') == 1
    cfg = prepare_config(cfg_path, cfg_options=opts, launcher='pytorch')
    if not torch.cuda.is_available():
        assert cfg.env_cfg.dist_cfg.backend == 'gloo'
        assert cfg.model_wrapper_cfg.type == 'mmadapt.DeviceAwareDDP'
