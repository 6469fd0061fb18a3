# FNA++ for DeepLabv3 on the built-in shapes segmentation data (CPU-sized). Inherits the paper config
# ./deeplabv3_mbv2.py (output stride 16) and changes only the data, the sizes and the schedule (the
# data settings are those of configs/baselines/deeplabv3_mbv2_shapes.py).
#   python tools/train.py configs/fna/deeplabv3_mbv2_shapes.py --cfg-options fna.seed.checkpoint=SEED
_base_ = './deeplabv3_mbv2.py'

# ---- data: built-in shapes (tools/data/make_shapes.py) ----
shapes = dict(task='seg', num_train=400, num_val=50, size=128, seed=0)
data_root = 'data/shapes_seg/'
metainfo = dict(classes=('background', 'circle', 'square', 'triangle', 'star'),
                palette=[[0, 0, 0], [220, 20, 60], [0, 128, 255], [255, 200, 0], [60, 180, 75]])
crop_size = (128, 128)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(128, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
dataset_type = 'BaseSegDataset'
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, metainfo=metainfo, img_suffix='.png',
                 seg_map_suffix='.png', reduce_zero_label=False,
                 data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=True,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, metainfo=metainfo, img_suffix='.png',
                 seg_map_suffix='.png', reduce_zero_label=False,
                 data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# ---- sizes: 128 px crops, 5 classes, plain BN on CPU, a narrower head with dilations for 8x8 maps ----
search_size = crop_size
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(input_size=search_size, norm_cfg=norm_cfg),
    decode_head=dict(channels=64, dilations=(1, 2, 3, 4), num_classes=5, norm_cfg=norm_cfg))

# ---- schedule: a few CPU minutes ----
train_cfg = dict(max_epochs=6, warmup_epochs=2, val_interval=6, cost_input_size=search_size)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=6, by_epoch=True)]
optim_wrapper = dict(optimizer=dict(lr=0.01))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(by_epoch=False, interval=100000, max_keep_ckpts=2))
randomness = dict(seed=0)
fna = dict(
    seed=dict(spec='mobilenet_v2_os16'),
    cost_input_size=search_size,
    param=dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=400, val_interval=400),
        param_scheduler=[dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=400, by_epoch=False)]))
