# SimpleBaseline (top-down heatmaps) with a MobileNetV2 backbone on the built-in shapes pose data
# (stick figures, 7 keypoints; CPU-sized). Inherits mmpose's MobileNetV2 MPII config and changes
# the data, the sizes and the schedule.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/mpii/td-hm_mobilenetv2_8xb64-210e_mpii-256x256.py',
    '../_base_/datasets/shapes_pose.py'
]
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

# ---- data: built-in shapes (tools/data/make_shapes.py; configs/_base_/datasets/shapes_pose.py) ----
data_root = {{_base_.shapes_pose_root}}
codec = {{_base_.shapes_pose_codec}}
train_dataloader = {{_base_.shapes_pose_train_dataloader}}
val_dataloader = {{_base_.shapes_pose_val_dataloader}}
test_dataloader = {{_base_.shapes_pose_test_dataloader}}
val_evaluator = {{_base_.shapes_pose_evaluator}}
test_evaluator = val_evaluator

# ---- model: 7 keypoints, narrower deconvolution head ----
model = dict(
    # mmadapt's MobileNetV2; its 1280-channel head conv (index 7) feeds the deconvolution head
    backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV2', spec='mobilenet_v2', out_indices=(7, )),
    head=dict(out_channels=7, deconv_out_channels=(64, 64, 64), deconv_kernel_sizes=(4, 4, 4),
              decoder=codec),
    test_cfg=dict(flip_test=True))

# ---- schedule: a few CPU minutes ----
max_epochs = 10
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs, by_epoch=True,
         eta_min=1e-5)
]
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(logger=dict(interval=20),
                     checkpoint=dict(interval=1, max_keep_ckpts=2, save_best='coco/AP',
                                     rule='greater'))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
