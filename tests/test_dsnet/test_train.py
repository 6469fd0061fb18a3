"""DS-Net end to end through tools/train.py on tiny shapes data: both stages, the summary (dynamic vs
static routes), exact resume inside Stage I and inside Stage II, identical state on two DDP ranks."""
import json
import os.path as osp
import subprocess
import sys

import torch

from ..conftest import ROOT, dist_train, tool

CONFIG = osp.join(ROOT, 'configs', 'dsnet', 'dsmbnet_shapes.py')


def options(data_root, **extra):
    opts = {
        'data_root': data_root,
        'train_dataloader.dataset.data_root': data_root, 'val_dataloader.dataset.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'train_dataloader.batch_size': 16, 'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
        'test_dataloader.num_workers': 0, 'log_level': 'WARNING',
        'train_cfg.stage1_epochs': 2, 'train_cfg.stage2_epochs': 2, 'train_cfg.input_size': '[32,32]',
        'train_cfg.recal_batches': 2, 'train_cfg.latency_images': 2, 'train_cfg.val_interval': 4,
        'default_hooks.checkpoint.max_keep_ckpts': 10,
    }
    opts.update(extra)
    return opts


def train(work, opts, resume=None):
    args = [sys.executable, tool('train.py'), CONFIG, '--work-dir', str(work)]
    if resume:
        args += ['--resume', resume]
    args += ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    return proc.stdout + proc.stderr


def state(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_both_stages_write_a_summary_and_resume_continues_exactly(data32, tmp_path):
    full = tmp_path / 'full'
    train(full, options(data32))
    summary = json.loads((full / 'dsnet' / 'summary.json').read_text())
    rows = summary['rows']
    assert set(rows) == {'dynamic', '(0,)', '(1,)', '(2,)', '(3,)'}
    assert sum(rows['dynamic']['route_share'].values()) == 1.0
    static = [rows[f'({k},)']['madds'] for k in range(4)]
    assert static == sorted(static) and static[0] < static[-1]
    assert static[0] <= rows['dynamic']['madds'] <= static[-1] + summary['rows']['dynamic']['madds'] * 0.01
    assert (full / 'dsnet' / 'summary.md').is_file() and (full / 'dsnet' / 'curve.png').stat().st_size > 1000
    final = state(full / 'epoch_4.pth')
    # resumed inside Stage I (the EMA model and the random routes restored) and inside Stage II (the
    # recalibrated supernet kept, the gate optimizer and the Gumbel noise restored)
    for epoch in (1, 3):
        work = tmp_path / f'resumed{epoch}'
        train(work, options(data32), resume=str(full / f'epoch_{epoch}.pth'))
        again = state(work / 'epoch_4.pth')
        assert again.keys() == final.keys()
        for k in final:
            assert torch.equal(final[k], again[k]), f'{k} differs after resuming from epoch {epoch}'
    # an epoch of Stage II trains the slimming heads and nothing else (BN statistics included)
    mid = state(full / 'epoch_3.pth')
    changed = {k for k in final if not torch.equal(mid[k], final[k])}
    assert changed == {'backbone.heads.s3_l0.slim.weight'}


def test_two_ddp_ranks_hold_the_same_network(data32, tmp_path):
    work = tmp_path / 'ddp'
    log = dist_train(CONFIG, work, options(data32, **{'train_cfg.stage1_epochs': 1, 'train_cfg.stage2_epochs': 1,
                                                      'train_cfg.val_interval': 2, 'log_level': 'INFO'}), port_base=29900)
    assert 'DS-Net parameters and statistics identical on 2 ranks after both stages' in log
    assert (work / 'dsnet' / 'summary.md').is_file()
