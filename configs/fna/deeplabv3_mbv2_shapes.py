# FNA++ for DeepLabv3 on the built-in shapes segmentation data (CPU-sized). Inherits the paper config
# ./deeplabv3_mbv2.py (output stride 16) and changes only the data, the sizes and the schedule (the
# data settings are configs/_base_/datasets/shapes_seg.py, as for the baseline).
#   python tools/train.py configs/fna/deeplabv3_mbv2_shapes.py --cfg-options fna.seed.checkpoint=SEED
_base_ = ['./deeplabv3_mbv2.py', '../_base_/datasets/shapes_seg.py']

# ---- data: built-in shapes (tools/data/make_shapes.py; configs/_base_/datasets/shapes_seg.py) ----
data_root = {{_base_.shapes_seg_root}}
crop_size = {{_base_.shapes_seg_crop_size}}
train_dataloader = {{_base_.shapes_seg_train_dataloader}}
val_dataloader = {{_base_.shapes_seg_val_dataloader}}
test_dataloader = {{_base_.shapes_seg_test_dataloader}}
val_evaluator = {{_base_.shapes_seg_evaluator}}
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
