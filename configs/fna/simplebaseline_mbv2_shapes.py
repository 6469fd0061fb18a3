# FNA++ for SimpleBaseline on the built-in shapes pose data (stick figures, 7 keypoints; CPU-sized).
# Inherits the paper config ./simplebaseline_mbv2.py and changes only the data, the sizes and the
# schedule (the data settings are configs/_base_/datasets/shapes_pose.py, as for the baseline).
#   python tools/train.py configs/fna/simplebaseline_mbv2_shapes.py --cfg-options fna.seed.checkpoint=SEED
_base_ = ['./simplebaseline_mbv2.py', '../_base_/datasets/shapes_pose.py']

# ---- data: built-in shapes (tools/data/make_shapes.py; configs/_base_/datasets/shapes_pose.py) ----
data_root = {{_base_.shapes_pose_root}}
codec = {{_base_.shapes_pose_codec}}
train_dataloader = {{_base_.shapes_pose_train_dataloader}}
val_dataloader = {{_base_.shapes_pose_val_dataloader}}
test_dataloader = {{_base_.shapes_pose_test_dataloader}}
val_evaluator = {{_base_.shapes_pose_evaluator}}
test_evaluator = val_evaluator

# ---- sizes: 96x96 inputs, 7 keypoints, a narrower deconvolution head ----
search_size = (96, 96)
model = dict(
    backbone=dict(input_size=search_size),
    head=dict(out_channels=7, deconv_out_channels=(64, 64, 64), deconv_kernel_sizes=(4, 4, 4), decoder=codec),
    test_cfg=dict(flip_test=True))

# ---- schedule: a few CPU minutes (the paper's proportions: half warm-up, 20% for the architecture) ----
train_cfg = dict(max_epochs=6, warmup_epochs=3, val_interval=6, cost_input_size=search_size)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, T_max=6, end=6, by_epoch=True, eta_min=1e-5)
]
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
randomness = dict(seed=0)
fna = dict(
    cost_input_size=search_size,
    param=dict(
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=10, val_interval=10),
        param_scheduler=[
            dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
            dict(type='CosineAnnealingLR', begin=0, T_max=10, end=10, by_epoch=True, eta_min=1e-5)
        ]))
