# SSDLite with a MobileNetV2 backbone on the built-in shapes detection data (CPU-sized).
# Inherits mmdet's SSDLite config and changes the data, the sizes and the schedule.
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

# ---- data: built-in shapes (tools/data/make_shapes.py) ----
shapes = dict(task='det', num_train=800, num_val=100, size=128, seed=0)
data_root = 'data/shapes_det/'
metainfo = dict(classes=('circle', 'square', 'triangle', 'star'),
                palette=[(220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75)])
input_size = 128
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(input_size, input_size), keep_ratio=False),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(times=1, dataset=dict(
        data_root=data_root, metainfo=metainfo, ann_file='annotations/train.json',
        data_prefix=dict(img='images/train/'), filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json',
                 data_prefix=dict(img='images/val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json', metric='bbox')
test_evaluator = val_evaluator

# ---- model: anchors scaled from 320 px to 128 px inputs ----
# mmadapt's MobileNetV2 with mmdet's SSDLite outputs (stage 5 at stride 16 and the 1280-channel
# head conv), the same backbone as the classification seed, so seeds load with prefix='backbone.'.
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV2', spec='mobilenet_v2', out_indices=(4, 7),
                  norm_cfg=dict(type='BN', eps=0.001, momentum=0.03),
                  init_cfg=dict(type='TruncNormal', layer='Conv2d', std=0.03)),
    # mmadapt.SSDHead: mmdet 3.3.0's SSDHead fails at prediction (see its docstring)
    bbox_head=dict(
        type='mmadapt.SSDHead',
        num_classes=4,
        anchor_generator=dict(
            strides=[16, 32, 64, 107, 160, 320],
            min_sizes=[19, 40, 60, 81, 101, 122],
            max_sizes=[40, 60, 81, 101, 122, 128])))

# ---- schedule: a few CPU minutes ----
max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs, by_epoch=True,
         eta_min=0)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
