# DS-MBNet on the built-in shapes classification data (64x64, easy and hard images mixed), CPU-sized:
# the public DS-MBNet's pattern at half its widths: fixed early stages (16 / 32 / 48 / 96), one gate at
# the first block of the 6-block stage choosing one of 4 widths for it and for the last stage together.
# Stage I (IEB) for 20 epochs (EMA decay 0.98 per step: the paper's 0.997 lags a 1,260-step run by
# over 300 steps, and the routes other than the widest learn only from the EMA model), BN
# recalibration of the 4 routes, Stage II (gate, SGS) for 3 epochs.
#   python tools/train.py configs/dsnet/dsmbnet_l_shapes.py      (tools/demo.py --method dsnet runs it)
# S and M (dsmbnet_s_shapes.py, dsmbnet_m_shapes.py) restrict the gate to the 2 and 3 slimmest widths.
_base_ = '../baselines/mobilenetv2_shapes_cls.py'
shapes = dict(task='cls', num_train=2000, num_val=400, size=64, seed=0, difficulty='mixed')
data_root = 'data/shapes_cls64_mixed/'
train_dataloader = dict(batch_size=32, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=100, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

ds_spec = dict(
    name='ds_mbnet_shapes', family='mbv1', act='relu',
    stem=dict(out_channels=16, kernel=3, stride=2),
    stages=[dict(out_channels=32, stride=1, blocks=['k3']),
            dict(out_channels=48, stride=2, blocks=['k3', 'k3']),
            dict(out_channels=96, stride=2, blocks=['k3', 'k3']),
            dict(out_channels=256, stride=2, blocks=['k3'] * 6),
            dict(out_channels=512, stride=2, blocks=['k3', 'k3'])])
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticMobileNetV1', spec=ds_spec, out_indices=(4, )),
                  # one gate after the 5th block (DS-MBNet), 4 equispaced widths per gated stage
                  gates=[dict(stages=[3, 4], widths=[[64, 128, 192, 256], [128, 256, 384, 512]])],
                  attention='all', attention_ratio=0.25, attention_divisor=8),
    head=dict(in_channels=512, num_classes=4, topk=(1, )))

stage1_epochs, stage2_epochs = 20, 3
train_cfg = dict(_delete_=True, type='mmadapt.DSNetLoop', stage1_epochs=stage1_epochs, stage2_epochs=stage2_epochs,
                 input_size=(64, 64), num_classes=4, num_random=2, ema_decay=0.98, ensemble=True,
                 recal_batches=20, gate_lr=0.05, gate_lr_decay=0.9, lambdas=(1.0, 0.5, 1.0), sgs='try_best',
                 latency_images=100, val_interval=stage1_epochs + stage2_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=25),
    dict(type='CosineAnnealingLR', T_max=stage1_epochs, by_epoch=True, begin=0, end=stage1_epochs, eta_min=1e-5)
]
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=0.01))
custom_hooks = [dict(type='mmadapt.DSNetStateHook')]
find_unused_parameters = True  # under DDP, a static route leaves the slimming heads unused
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=1))
