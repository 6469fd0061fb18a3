# FNA++ for RetinaNet with a ResNet-50 seed on the built-in shapes detection data (CPU-sized).
# Inherits the paper config ./retinanet_r50.py and changes only the data, the sizes and the schedule
# (search space fna_resnet50; BN recalibration as the paper). Run:
#   python tools/train.py configs/fna/retinanet_r50_shapes.py --cfg-options fna.seed.checkpoint=SEED
_base_ = ['./retinanet_r50.py', '../_base_/shapes_fna_retinanet.py']

# ---- data: built-in shapes (tools/data/make_shapes.py; configs/_base_/datasets/shapes_det.py) ----
data_root = {{_base_.shapes_det_root}}
train_pipeline = {{_base_.shapes_det_train_pipeline}}
test_pipeline = {{_base_.shapes_det_test_pipeline}}
search_pipeline = train_pipeline
train_dataloader = {{_base_.shapes_det_train_dataloader}}
val_dataloader = {{_base_.shapes_det_val_dataloader}}
test_dataloader = {{_base_.shapes_det_test_dataloader}}
val_evaluator = {{_base_.shapes_det_evaluator}}
test_evaluator = val_evaluator

# ---- sizes and schedule: see ../_base_/shapes_fna_retinanet.py ----
search_size = {{_base_.shapes_fna_det_size}}
model = {{_base_.shapes_fna_det_model}}
train_cfg = {{_base_.shapes_fna_det_search}}
param_scheduler = {{_base_.shapes_fna_det_search_schedule}}
optim_wrapper = {{_base_.shapes_fna_det_optim_wrapper}}
auto_scale_lr = {{_base_.shapes_fna_det_auto_scale_lr}}
default_hooks = {{_base_.shapes_fna_det_default_hooks}}
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
fna = {{_base_.shapes_fna_det_fna}}
