# FNA++ for DeepLabv3+ (output stride 16) on the built-in shapes segmentation data (CPU-sized).
# Inherits the paper config ./deeplabv3plus_mbv2.py and changes only the data, the sizes and the
# schedule. Run:
#   python tools/train.py configs/fna/deeplabv3plus_mbv2_shapes.py --cfg-options fna.seed.checkpoint=SEED
_base_ = ['./deeplabv3plus_mbv2.py', '../_base_/shapes_fna_seg.py']

# ---- data: built-in shapes (tools/data/make_shapes.py; configs/_base_/datasets/shapes_seg.py) ----
data_root = {{_base_.shapes_seg_root}}
crop_size = {{_base_.shapes_seg_crop_size}}
train_dataloader = {{_base_.shapes_seg_train_dataloader}}
val_dataloader = {{_base_.shapes_seg_val_dataloader}}
test_dataloader = {{_base_.shapes_seg_test_dataloader}}
val_evaluator = {{_base_.shapes_seg_evaluator}}
test_evaluator = val_evaluator

# ---- sizes: 128 px crops, 5 classes, plain BN on CPU, a narrower head with dilations for 8x8 maps ----
search_size = {{_base_.shapes_fna_seg_size}}
norm_cfg = {{_base_.shapes_fna_seg_norm_cfg}}
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(input_size=search_size, norm_cfg=norm_cfg),
    decode_head=dict(channels=64, c1_channels=16, dilations=(1, 2, 3, 4), num_classes=5, norm_cfg=norm_cfg))

# ---- schedule: see ../_base_/shapes_fna_seg.py ----
train_cfg = {{_base_.shapes_fna_seg_search}}
param_scheduler = {{_base_.shapes_fna_seg_search_schedule}}
optim_wrapper = {{_base_.shapes_fna_seg_optim_wrapper}}
default_hooks = {{_base_.shapes_fna_seg_default_hooks}}
randomness = dict(seed=0)  # reproducible runs on the built-in data
fna = {{_base_.shapes_fna_seg_fna}}
