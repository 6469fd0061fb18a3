# The 32x32 shapes classification recipe of the width methods' CPU-sized configs (DNA, NetAdaptV2):
# the baseline classifier on 2000 + 400 generated images, AdamW 3e-3, a short warm-up, then cosine.
_base_ = '../baselines/mobilenetv2_shapes_cls.py'
shapes = dict(task='cls', num_train=2000, num_val=400, size=32, seed=0)
data_root = 'data/shapes_cls32/'
train_dataloader = dict(batch_size=32, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=100, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
# 24 epochs: MobileNetV2 needs about a thousand steps on this data before its loss leaves log(4)
max_epochs = 24
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=25),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs, eta_min=1e-5)
]
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=0.01))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=1, max_keep_ckpts=1))
