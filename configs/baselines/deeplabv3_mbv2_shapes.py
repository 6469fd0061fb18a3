# DeepLabv3 with a dilated MobileNetV2 backbone (output stride 8) on the built-in shapes
# segmentation data (CPU-sized). Inherits mmseg's MobileNetV2 DeepLabv3 Cityscapes config and
# changes the data, the sizes and the schedule.
_base_ = [
    'mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/datasets/shapes_seg.py'
]
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

# ---- data: built-in shapes (tools/data/make_shapes.py; configs/_base_/datasets/shapes_seg.py) ----
data_root = {{_base_.shapes_seg_root}}
crop_size = {{_base_.shapes_seg_crop_size}}
train_dataloader = {{_base_.shapes_seg_train_dataloader}}
val_dataloader = {{_base_.shapes_seg_val_dataloader}}
test_dataloader = {{_base_.shapes_seg_test_dataloader}}
val_evaluator = {{_base_.shapes_seg_evaluator}}
test_evaluator = val_evaluator

# ---- model: plain BN on CPU, narrower ASPP head, dilations scaled to 16x16 feature maps ----
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    # mmadapt's MobileNetV2 at output stride 8 (mmseg's strides and dilations, as the spec
    # 'mobilenet_v2_os8'): stages 2, 3, 5, 7 as in mmseg's config
    backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV2', spec='mobilenet_v2_os8',
                  out_indices=(1, 2, 4, 6), norm_cfg=norm_cfg),
    decode_head=dict(channels=64, dilations=(1, 2, 4, 6), num_classes=5, norm_cfg=norm_cfg),
    auxiliary_head=dict(channels=32, num_classes=5, norm_cfg=norm_cfg))

# ---- schedule: a few CPU minutes ----
max_iters = 400
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
optim_wrapper = dict(optimizer=dict(lr=0.02))
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(by_epoch=False, interval=max_iters // 2, max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
