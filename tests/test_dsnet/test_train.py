"""DS-Net end to end through tools/train.py on tiny shapes data: both stages, the summary (dynamic vs
static routes), exact resume inside Stage I and inside Stage II, identical state on two DDP ranks."""
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

from ..conftest import ROOT, cls_options, dist_train, tool

CONFIG = osp.join(ROOT, 'configs', 'dsnet', 'dsmbnet_l_shapes.py')


def options(data_root, **extra):
    return cls_options(data_root, **{
        'train_cfg.stage1_epochs': 1, 'train_cfg.stage2_epochs': 2, 'train_cfg.input_size': '[32,32]',
        'train_cfg.recal_batches': 2, 'train_cfg.latency_images': 2, 'train_cfg.val_interval': 3,
        'default_hooks.checkpoint.max_keep_ckpts': 10, **extra})


def train(work, opts, resume=None, config=CONFIG):
    """``tools/train.py`` in this process (a run's state does not outlive it: the resume test
    compares runs made one after the other)."""
    from tools.train import main
    args = [config, '--work-dir', str(work)] + (['--resume', resume] if resume else [])
    main(args + (['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()] if opts else []))


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
    final = state(full / 'epoch_3.pth')
    # resumed after Stage I (the EMA model that Stage II starts from restored) and inside Stage II (the
    # recalibrated supernet kept, the gate optimizer and the Gumbel noise restored)
    for epoch in (1, 2):
        work = tmp_path / f'resumed{epoch}'
        train(work, options(data32), resume=str(full / f'epoch_{epoch}.pth'))
        again = state(work / 'epoch_3.pth')
        assert again.keys() == final.keys()
        for k in final:
            assert torch.equal(final[k], again[k]), f'{k} differs after resuming from epoch {epoch}'
    # an epoch of Stage II trains the slimming heads and nothing else (BN statistics included)
    mid = state(full / 'epoch_2.pth')
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
    with pytest.raises(SystemExit, match=r'route \(9,\) is not in the routing space'):
        export_tool.main([CONFIG, str(ckpt), '--route', '9', '--out', str(tmp_path / 'bad')])
    assert not (tmp_path / 'bad').exists()


EASY_HARD = '''
_base_ = {base!r}
data_root = {root!r}
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=100, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
res = dict(name='tiny_res', family='resnet', block='bottleneck', act='relu',
           stem=dict(out_channels=16, kernel=3, stride=1),
           stages=[dict(out_channels=32, stride=1, blocks=['k3g1']), dict(out_channels=64, stride=2, blocks=['k3g1']),
                   dict(out_channels=128, stride=2, blocks=['k3g1'])])
model = dict(backbone=dict(_delete_=True, type='mmadapt.DSBackbone',
                           net=dict(type='mmadapt.ElasticResNet', spec=res, out_indices=(2, ),
                                    norm_cfg=dict(type='GN', num_groups=4)),
                           gates=[dict(stages=[1, 2], ratios=[0.25, 0.5, 1.0])], zero_init_last_norm=True),
             head=dict(in_channels=128))
train_cfg = dict(stage1_epochs=10, stage2_epochs=5, input_size=(32, 32), val_interval=15, recal_batches=10,
                 latency_images=0, ema_decay=0.95, lambdas=(0.0, 0.0, 1.0), gate_lr=0.5)
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=25),
                   dict(type='CosineAnnealingLR', T_max=10, by_epoch=True, begin=0, end=10, eta_min=1e-5)]
optim_wrapper = dict(optimizer=dict(lr=1e-2))
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=100))
log_level = 'WARNING'
'''


def test_the_trained_gate_sends_more_easy_than_hard_images_to_the_slimmest_route(tmp_path):
    """Shapes classification with controlled difficulty (one large clean shape vs a small, low-contrast,
    partly hidden one among distractors): after IEB and SGS training, the gate routes a larger share
    of the easy validation images than of the hard ones to the slimmest route (measured: 100% vs 80%)."""
    from mmadapt.datasets import make_shapes
    root = tmp_path / 'mixed32'
    make_shapes('cls', str(root), 600, 200, 32, seed=0, difficulty='mixed')
    cfg = tmp_path / 'easy_hard.py'
    cfg.write_text(EASY_HARD.format(base=CONFIG, root=str(root) + '/'))
    work = tmp_path / 'work'
    train(work, {}, config=str(cfg))
    by = json.loads((work / 'dsnet' / 'summary.json').read_text())['rows']['dynamic']['by_difficulty']
    assert by['easy']['images'] > 50 and by['hard']['images'] > 50
    assert by['easy']['accuracy'] > by['hard']['accuracy'] + 20  # the supernet learnt the easy images
    assert by['easy']['slimmest_share'] > by['hard']['slimmest_share'] + 0.05
    assert by['easy']['madds'] < by['hard']['madds']
