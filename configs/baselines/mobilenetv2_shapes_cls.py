# MobileNetV2 classifier on the built-in shapes classification data (4 classes, CPU-sized).
# Inherits mmpretrain's ImageNet MobileNetV2 config and changes the data, the sizes and the
# schedule. Its backbone checkpoint is the seed that the detection/segmentation/pose configs start
# from (the detection, segmentation and pose baselines use the same mmadapt backbone).
_base_ = 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

# ---- data: built-in shapes (tools/data/make_shapes.py) ----
shapes = dict(task='cls', num_train=4000, num_val=400, size=64, seed=0)
data_root = 'data/shapes_cls/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'star'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]
dataset_type = 'CustomDataset'
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='meta/train.txt', data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='meta/val.txt', data_prefix='val', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator

# ---- model: 4 classes ----
data_preprocessor = dict(num_classes=4)
# mmadapt's MobileNetV2 (the 'mobilenet_v2' spec, up to the 1280-channel head conv)
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV2', spec='mobilenet_v2', out_indices=(7, )),
    head=dict(num_classes=4, topk=(1, )))

# ---- schedule: a few CPU minutes ----
max_epochs = 12
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         eta_min=1e-5)
]
optim_wrapper = dict(optimizer=dict(_delete_=True, type='AdamW', lr=2e-3, weight_decay=0.01))
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
