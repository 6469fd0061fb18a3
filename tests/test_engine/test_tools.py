"""The command-line tools as a user runs them: train, resume exactly, test, multi-process."""
import json
import os
import os.path as osp
import subprocess

import pytest
import torch

from mmadapt.utils import data_root_options

from ..conftest import ROOT, python, tool

CLS = osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py')


def _cls_options(data_root, epochs):
    return [f'{k}={v}' for k, v in data_root_options(data_root).items()] + [
        'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
        # augmentation off so that an interrupted and an uninterrupted run see the same data
        'train_dataloader.dataset.pipeline.1.prob=0.0',
    ]


def _run(args, cwd=ROOT):
    proc = subprocess.run([python()] + args, cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_train_resume_continues_exactly_and_test_writes_metrics(shapes_root, tmp_path):
    data = shapes_root / 'cls'
    a, b = tmp_path / 'interrupted', tmp_path / 'straight'
    _run([tool('train.py'), CLS, '--work-dir', str(a), '--cfg-options'] + _cls_options(data, 1))
    out = _run([tool('train.py'), CLS, '--work-dir', str(a), '--resume', '--cfg-options'] +
               _cls_options(data, 3))
    assert 'resumed epoch: 1, iter: 4' in out.stdout + out.stderr
    _run([tool('train.py'), CLS, '--work-dir', str(b), '--cfg-options'] + _cls_options(data, 3))
    final_a = torch.load(a / 'epoch_3.pth')['state_dict']
    final_b = torch.load(b / 'epoch_3.pth')['state_dict']
    assert final_a.keys() == final_b.keys()
    for k in final_a:
        assert torch.equal(final_a[k], final_b[k]), k

    # evaluation of a checkpoint, and of the untrained model (no checkpoint)
    t = tmp_path / 'test'
    out = _run([tool('test.py'), CLS, str(a / 'epoch_3.pth'), '--work-dir', str(t),
                '--cfg-options'] + _cls_options(data, 1))
    res = json.loads((t / 'results.json').read_text())['test']
    assert res['checkpoint'] == str(a / 'epoch_3.pth')
    val_a = json.loads((a / 'results.json').read_text())['val'][-1]['metrics']['accuracy/top1']
    assert res['metrics']['accuracy/top1'] == pytest.approx(val_a)
    assert 'metrics: accuracy/top1=' in out.stdout
    u = tmp_path / 'untrained'
    out = _run([tool('test.py'), CLS, '--work-dir', str(u), '--cfg-options'] +
               _cls_options(data, 1))
    assert 'no checkpoint given' in out.stdout
    assert json.loads((u / 'results.json').read_text())['test']['checkpoint'] is None


def test_missing_data_is_reported_with_the_generate_command(tmp_path):
    proc = subprocess.run(
        [python(), tool('train.py'), CLS, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
         f'data_root={tmp_path}/none/', f'train_dataloader.dataset.data_root={tmp_path}/none/'],
        cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'DataNotFoundError' in proc.stderr
    assert 'python tools/data/make_shapes.py --task cls' in proc.stderr
    assert not (tmp_path / 'w').exists()  # nothing half-written


def test_two_process_cpu_training(shapes_root, tmp_path):
    """tools/dist_train.sh with 2 processes on CPU (gloo): both ranks train the same model."""
    work = tmp_path / 'ddp'
    env = dict(os.environ, PYTHON=python(), PORT=str(29500 + os.getpid() % 1000),
               PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    proc = subprocess.run(['bash', tool('dist_train.sh'), CLS, '2', '--work-dir', str(work),
                           '--cfg-options'] + _cls_options(shapes_root / 'cls', 1),
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    # 32 images, batch 8 per process, 2 processes: 2 iterations per epoch
    ckpt = torch.load(work / 'epoch_1.pth')
    assert ckpt['meta']['iter'] == 2
    assert 'accuracy/top1' in json.loads((work / 'results.json').read_text())['val'][-1]['metrics']
