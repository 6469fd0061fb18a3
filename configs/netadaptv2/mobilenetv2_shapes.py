# NetAdaptV2 on the built-in shapes classification data at 32x32 (CPU-sized): MobileNetV2 1.0 as the
# initial network, channel-level bypass limits of App. B (T = 8 x stride / 2), a 9-point width grid,
# ordered-dropout super-network training on the training set minus a held-out split, MCD (J = 24,
# L = 4) to 60% of the initial network's MAdds with the held-out accuracy of each sample (BN
# recalibrated per sample), then the found network and the initial one trained on from their slices
# of the super-network and tested.
#   python tools/train.py configs/netadaptv2/mobilenetv2_shapes.py
_base_ = '../baselines/mobilenetv2_shapes_cls.py'
shapes = dict(task='cls', num_train=2000, num_val=400, size=32, seed=0)
data_root = 'data/shapes_cls32/'
train_dataloader = dict(batch_size=32, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=100, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
max_epochs = 20
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=25),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5)
]
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=0.01))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=1))
netadaptv2 = dict(
    seed=dict(checkpoint=None),          # the super-network trains from scratch here
    holdout=dict(size=400, seed=0),
    bypass=8,
    space=dict(widths=9, kernels=None, divisor=1),
    supernet=dict(epochs=20),
    budget_ratio=0.6,
    cost=dict(type='madds', input_size=(32, 32)),
    search=dict(num_samples=24, num_layers=4, r0=0.04, decay=0.98, recal_batches=4, eval_mode='sequential'),
    final=dict(init='supernet', epochs=6),
    compare=('seed', ),
)
