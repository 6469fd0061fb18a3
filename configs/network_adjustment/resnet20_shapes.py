# Network Adjustment of ResNet-20 (CIFAR form) on the built-in shapes classification data at 32x32:
# the CIFAR-100 config with CPU-sized rounds. tools/demo.py --method network-adjustment runs it.
#   python tools/train.py configs/network_adjustment/resnet20_shapes.py
_base_ = './resnet20_cifar100.py'

shapes = dict(task='cls', num_train=2000, num_val=400, size=32, seed=0)
data_root = 'data/shapes_cls32/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'star'))
data_preprocessor = dict(num_classes=4, mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0], to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=64, num_workers=1, persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='meta/train.txt', data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=100, num_workers=1, persistent_workers=False,
    dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='meta/val.txt', data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(head=dict(num_classes=4))

# AdamW learns this small task in a few CPU minutes where the paper's SGD recipe stays near chance
epochs = 16
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=3e-3, weight_decay=0.01))
param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=25),
                   dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True, begin=0, end=epochs, eta_min=1e-5)]
train_cfg = dict(max_epochs=epochs, val_interval=epochs)
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=1), logger=dict(interval=10))
randomness = dict(seed=0)

network_adjustment = dict(
    rounds=3,
    cost=dict(input_size=(32, 32), num_classes=4),
    holdout=dict(size=400, seed=0),
    fur=dict(repeats=2),
    adjust=dict(k=4, k_decay=1, rate=0.15, rate_decay=0.01),
)
