# FastDepth (Wofk et al., ICRA 2019: MobileNetV1 encoder, NNConv5 decoder, L1 loss) on NYU Depth V2
# at 224x224: NetAdaptV2's depth-estimation seed (Sec. 4.2, App. A): batch 16, SGD lr 0.025 decayed
# x0.9 every epoch, 50 epochs. A pure task config (no method dict) on mmseg's depth support:
# DepthEstimator, NYUDataset, DepthMetric; the head and loss are mmadapt's (mmseg 1.2.2 has neither).
# Data: data/nyu in the layout of mmseg's tools/dataset_converters/nyu.py: images/{train,test}/*.jpg and
# annotations/{train,test}/*.png (uint16 depth in mm; 0 = no depth), 480x640.
# FastDepth's encoder is ImageNet-pretrained (NetAdaptV2 too); no weights are downloaded here: convert
# one first (tools/remap.py; timm's mobilenetv1_100 loads exactly) and pass
# --cfg-options model.backbone.init_cfg.type=Pretrained model.backbone.init_cfg.checkpoint=FILE
# model.backbone.init_cfg.prefix=backbone.
_base_ = ['mmseg::_base_/default_runtime.py']
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

# ---- data: NYU Depth V2 (mmseg's NYUDataset) ----
dataset_type = 'NYUDataset'
data_root = 'data/nyu/'
crop_size = (224, 224)  # (H, W): the network's input, as FastDepth's
max_depth = 10.0  # m
meta_keys = ('img_path', 'depth_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'category_id')
# FastDepth's augmentation (from Ma & Karaman's sparse-to-dense): rotation +-5 degrees, scaling by
# s in [1, 1.5], a 228x304 crop of the 250x333 frame, horizontal flip, colour jitter, then 224x224.
# Not available in mmseg 1.2.2: dividing the depth by s when zooming (the depth is kept as it is).
# Pixels rotated in from outside get depth 0 (ignored by the loss).
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='RandomRotate', prob=1.0, degree=5.0, pad_val=0, seg_pad_val=0),
    dict(type='RandomResize', scale=(640, 480), ratio_range=(1.0, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(438, 584)),  # 228 / 250 of the frame's height, 4:3
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# the whole frame at 224x224; the depth is predicted back at 480x640 and evaluated there (Eigen crop)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
train_dataloader = dict(
    batch_size=16, num_workers=4, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 data_prefix=dict(img_path='images/train', depth_map_path='annotations/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, test_mode=True,
                 data_prefix=dict(img_path='images/test', depth_map_path='annotations/test'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
# every metric (mmseg 1.2.2's DepthMetric fails on a `depth_metrics` list: isinstance(x, [tuple, list]))
val_evaluator = dict(type='DepthMetric', min_depth_eval=1e-3, max_depth_eval=max_depth, crop_type='nyu_crop')
test_evaluator = val_evaluator

# ---- model: MobileNetV1 1.0 encoder (ReLU, as FastDepth's) + NNConv5 ----
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True,
    pad_val=0, seg_pad_val=0,  # padded depth is 0, i.e. ignored (mmseg's default 255 would read as 255 m)
    size=crop_size)
model = dict(
    type='DepthEstimator',
    data_preprocessor=data_preprocessor,
    # stages 0, 1, 2 (64, 128, 256 channels at strides 2, 4, 8: FastDepth's skips) and 4 (1024, stride 32)
    backbone=dict(type='mmadapt.DerivedMobileNetV1', spec='mobilenet_v1', out_indices=(0, 1, 2, 4),
                  act_cfg=dict(type='ReLU'), norm_cfg=norm_cfg),
    decode_head=dict(
        type='mmadapt.NNConv5Head', in_channels=(64, 128, 256, 1024), in_index=(0, 1, 2, 3),
        decoder_channels=(512, 256, 128, 64, 32), kernel_size=5, min_depth=1e-3, max_depth=max_depth,
        norm_cfg=norm_cfg, loss_decode=dict(type='mmadapt.DepthL1Loss')),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# ---- schedule: 50 epochs, SGD lr 0.025 x0.9 per epoch (momentum and weight decay: FastDepth's) ----
max_epochs = 50
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='SGD', lr=0.025, momentum=0.9, weight_decay=1e-4))
param_scheduler = [dict(type='ExponentialLR', gamma=0.9, by_epoch=True, begin=0, end=max_epochs)]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=5, max_keep_ckpts=2, save_best='rmse',
                    rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
