# FNA++ for SSDLite on the built-in shapes detection data (CPU-sized). Inherits the paper config
# ./ssdlite_mbv2.py and changes only the data, the sizes and the schedule (data and anchors as
# configs/baselines/ssdlite_mbv2_shapes.py: 128 px images, anchors scaled from 320 px).
#   python tools/train.py configs/fna/ssdlite_mbv2_shapes.py --cfg-options fna.seed.checkpoint=SEED
_base_ = './ssdlite_mbv2.py'

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
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
shapes_train = dict(
    type='CocoDataset', data_root=data_root, metainfo=metainfo, ann_file='annotations/train.json',
    data_prefix=dict(img='images/train/'), filter_cfg=dict(filter_empty_gt=True, min_size=0),
    pipeline=train_pipeline)
train_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=True, dataset=dict(_delete_=True, **shapes_train))
val_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(data_root=data_root, metainfo=metainfo, ann_file='annotations/val.json',
                 data_prefix=dict(img='images/val/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json', metric='bbox')
test_evaluator = val_evaluator

# ---- sizes: 128 px inputs, anchors scaled from 320 px ----
search_size = (input_size, input_size)
model = dict(
    backbone=dict(input_size=search_size),
    bbox_head=dict(
        num_classes=4,
        anchor_generator=dict(strides=[16, 32, 64, 107, 160, 320], min_sizes=[19, 40, 60, 81, 101, 122],
                              max_sizes=[40, 60, 81, 101, 122, 128])))

# ---- schedule: a few CPU minutes ----
train_cfg = dict(max_epochs=6, warmup_epochs=2, val_interval=6, cost_input_size=search_size)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', begin=0, T_max=6, end=6, by_epoch=True, eta_min=0)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
fna = dict(
    cost_input_size=search_size,
    param=dict(
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=6, val_interval=6),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
            dict(type='CosineAnnealingLR', begin=0, T_max=6, end=6, by_epoch=True, eta_min=0)
        ],
        # the search's data (the plain shapes set) serves parameter adaptation too
        cfg_options=None))
