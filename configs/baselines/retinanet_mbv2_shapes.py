# RetinaNet with a MobileNetV2 backbone on the built-in shapes detection data (CPU-sized).
# Inherits mmdet's RetinaNet config and changes the backbone, the data, the sizes and the schedule.
# Generate the data first:
#   python tools/data/make_shapes.py --task det --out data/shapes_det --num-train 800 \
#       --num-val 100 --size 128 --seed 0
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_1x_coco.py', '../_base_/datasets/shapes_det.py']
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

# ---- data: built-in shapes (tools/data/make_shapes.py; configs/_base_/datasets/shapes_det.py) ----
data_root = {{_base_.shapes_det_root}}
image_size = {{_base_.shapes_det_size}}
train_pipeline = {{_base_.shapes_det_train_pipeline}}
test_pipeline = {{_base_.shapes_det_test_pipeline}}
train_dataloader = {{_base_.shapes_det_train_dataloader}}
val_dataloader = {{_base_.shapes_det_val_dataloader}}
test_dataloader = {{_base_.shapes_det_test_dataloader}}
val_evaluator = {{_base_.shapes_det_evaluator}}
test_evaluator = val_evaluator

# ---- model: MobileNetV2 (stages 3, 5, 7: strides 8, 16, 32) + FPN + a narrower RetinaNet head ----
# mmadapt's MobileNetV2 (the 'mobilenet_v2' spec), the same backbone as the classification seed of
# configs/baselines/mobilenetv2_shapes_cls.py, whose checkpoint loads with prefix='backbone.'.
model = dict(
    backbone=dict(
        _delete_=True, type='mmadapt.DerivedMobileNetV2', spec='mobilenet_v2', out_indices=(2, 4, 6),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False),
    neck=dict(in_channels=[32, 96, 320], out_channels=64, start_level=0,
              add_extra_convs='on_input', num_outs=5),
    bbox_head=dict(num_classes=4, in_channels=64, feat_channels=64, stacked_convs=2))

# ---- schedule: a few CPU minutes ----
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         eta_min=1e-4)
]
optim_wrapper = dict(optimizer=dict(lr=0.02, momentum=0.9, weight_decay=4e-5),
                     clip_grad=dict(max_norm=10, norm_type=2))
auto_scale_lr = dict(base_batch_size=8)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=1, max_keep_ckpts=2))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
