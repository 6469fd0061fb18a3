"""DS-Net end to end through tools/train.py on tiny shapes data: both stages, the summary (dynamic vs
static routes), exact resume inside Stage I and inside Stage II, identical state on two DDP ranks."""
import json
import os.path as osp
import subprocess
import sys

import torch

from ..conftest import ROOT, dist_train, tool

CONFIG = osp.join(ROOT, 'configs', 'dsnet', 'dsmbnet_l_shapes.py')


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


def test_a_ds_backbone_in_mmdet_trains_both_stages_on_the_detection_loss(shapes_root, tmp_path):
    """RetinaNet with a DS-MobileNetV2: Stage I on the detection loss, Stage II with per-image SGS
    targets; the summary scores the dynamic detector and every static route with the COCO evaluator."""
    root = str(shapes_root / 'det') + '/'
    work = tmp_path / 'det'
    opts = {'data_root': root, 'train_dataloader.dataset.data_root': root, 'val_dataloader.dataset.data_root': root,
            'test_dataloader.dataset.data_root': root, 'val_evaluator.ann_file': root + 'annotations/val.json',
            'test_evaluator.ann_file': root + 'annotations/val.json', 'log_level': 'INFO',
            'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0, 'test_dataloader.num_workers': 0,
            'train_dataloader.persistent_workers': False, 'val_dataloader.persistent_workers': False,
            'test_dataloader.persistent_workers': False, 'train_dataloader.batch_size': 4,
            'train_cfg.stage1_epochs': 1, 'train_cfg.stage2_epochs': 1, 'train_cfg.val_interval': 2,
            'train_cfg.recal_batches': 2, 'train_cfg.latency_images': 2}
    args = [sys.executable, tool('train.py'), osp.join(ROOT, 'configs', 'dsnet', 'retinanet_dsmbv2_shapes.py'),
            '--work-dir', str(work), '--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-5000:]
    assert 'loss_slimmest' in log and 'easy_share' in log and 'loss_task' in log
    summary = json.loads((work / 'dsnet' / 'summary.json').read_text())
    assert set(summary['rows']) == {'dynamic', '(0,)', '(1,)', '(2,)'}
    assert summary['madds_of'] == 'the backbone'
    static = [summary['rows'][f'({k},)']['madds'] for k in range(3)]
    assert static[0] < static[1] < static[2]


def test_export_a_route_of_a_checkpoint_as_a_static_network(tmp_path):
    """tools/export_subnet.py --route: the written network computes what the DS model computes on the
    route; a route outside the space fails naming it and writes nothing."""
    from mmengine.config import Config

    from mmadapt.registry import MODELS
    from .test_dynamic import randomise, varied_inputs
    import importlib.util
    spec = importlib.util.spec_from_file_location('export_subnet', tool('export_subnet.py'))
    export_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(export_tool)
    cfg = Config.fromfile(CONFIG)
    model = randomise(MODELS.build(cfg.model.backbone)).eval()
    ckpt = tmp_path / 'ds.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in model.state_dict().items()}), ckpt)
    out = tmp_path / 'route1'
    export_tool.main([CONFIG, str(ckpt), '--route', '1', '--out', str(out)])
    saved = torch.load(out / 'subnet.pth', map_location='cpu', weights_only=False)
    static = MODELS.build(saved['meta']['derived_backbone'])
    static.load_state_dict({k[len('backbone.'):]: v for k, v in saved['state_dict'].items()}, strict=True)
    static.eval()
    x = varied_inputs(2, 64)
    model.set_route((1, ))
    with torch.no_grad():
        a, b = model(x)[0], static(x)[0]
    assert b.shape[1] == 256 and torch.equal(a[:, :256], b)
    assert (out / 'subnet.yaml').is_file() and saved['meta']['route'] == '1'
    proc = subprocess.run([sys.executable, tool('export_subnet.py'), CONFIG, str(ckpt), '--route', '9',
                           '--out', str(tmp_path / 'bad')], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode != 0 and 'route (9,) is not in the routing space' in proc.stderr
    assert not (tmp_path / 'bad').exists()
