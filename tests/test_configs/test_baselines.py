"""Every shapes baseline config trains a few iterations, evaluates with its framework's metric,
saves a checkpoint and resumes from the saved iteration."""
import json
import os.path as osp

import pytest
from mmengine.hooks import Hook

from mmadapt.engine import build_runner, prepare_config
from mmadapt.registry import HOOKS

from ..conftest import ROOT, data_options


@HOOKS.register_module(force=True)
class RecordItersHook(Hook):
    """Remembers the iterations a run trained (test helper)."""

    def __init__(self):
        self.iters = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.iters.append(runner.iter)


# config -> (data set, metric keys, options for a short run, option that lengthens it to 2 units)
CASES = {
    'retinanet_mbv2_shapes': ('det', ['coco/bbox_mAP', 'coco/bbox_mAP_50'], {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 8}, {'train_cfg.max_epochs': 2}),
    'ssdlite_mbv2_shapes': ('det', ['coco/bbox_mAP'], {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 8}, {'train_cfg.max_epochs': 2}),
    'deeplabv3_mbv2_shapes': ('seg', ['mIoU'], {
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 2, 'train_dataloader.batch_size': 4,
        'param_scheduler.0.end': 4}, {'train_cfg.max_iters': 4}),
    'simplebaseline_mbv2_shapes': ('pose', ['coco/AP', 'PCK'], {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 8}, {'train_cfg.max_epochs': 2}),
    'mobilenetv2_shapes_cls': ('cls', ['accuracy/top1'], {
        'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 1,
        'train_dataloader.batch_size': 8}, {'train_cfg.max_epochs': 2}),
}


def _options(name, data_root, extra):
    opts = data_options(data_root, name)
    if name == 'ssdlite_mbv2_shapes':  # a RepeatDataset wraps the training set
        root = opts.pop('train_dataloader.dataset.data_root')
        opts['train_dataloader.dataset.dataset.data_root'] = root
    ann = osp.join(str(data_root), 'annotations', 'val.json')
    if CASES[name][0] == 'det':
        opts.update({'val_evaluator.ann_file': ann, 'test_evaluator.ann_file': ann,
                     # after 2 iterations no score passes the usual threshold; keep every box so
                     # that the metric has predictions to evaluate
                     'model.test_cfg.score_thr': 0.0})
    if CASES[name][0] == 'pose':
        opts.update({'val_evaluator.0.ann_file': ann, 'test_evaluator.0.ann_file': ann})
    opts.update(extra)
    return opts


def _run(name, data_root, work_dir, extra, resume=None):
    cfg = prepare_config(osp.join(ROOT, 'configs/baselines', f'{name}.py'),
                         work_dir=str(work_dir), cfg_options=_options(name, data_root, extra),
                         resume=resume)
    runner = build_runner(cfg)
    recorder = RecordItersHook()
    runner.register_hook(recorder)
    runner.train()
    return runner, recorder


@pytest.mark.parametrize('name', sorted(CASES))
def test_train_evaluate_save_resume(name, shapes_root, tmp_path):
    task, metric_keys, short, longer = CASES[name]
    data_root = shapes_root / task
    work_dir = tmp_path / name

    runner, first = _run(name, data_root, work_dir, short)
    saved_iter = runner.iter
    assert saved_iter > 0 and first.iters == list(range(saved_iter))
    results = json.loads((work_dir / 'results.json').read_text())
    metrics = results['val'][-1]['metrics']
    for key in metric_keys:
        assert isinstance(metrics[key], float), (key, metrics)
    # written relative to the work dir, so that a copied work dir resumes from its own files
    last = (work_dir / 'last_checkpoint').read_text().strip()
    assert not osp.isabs(last) and osp.isfile(work_dir / last)

    runner2, second = _run(name, data_root, work_dir, {**short, **longer}, resume='auto')
    # training continued at the saved iteration and ran to the longer schedule
    assert second.iters[0] == saved_iter
    assert second.iters == list(range(saved_iter, runner2.iter))
    assert runner2.iter == 2 * saved_iter
