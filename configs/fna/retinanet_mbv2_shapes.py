# FNA++ for RetinaNet-MobileNetV2 on the built-in shapes detection data (CPU-sized): the demo's config
# (tools/demo.py). Inherits the paper config ./retinanet_mbv2.py (search space, loop, lambda,
# remapping, the `fna` pipeline) and changes only the data, the sizes and the schedule. Run:
#   python tools/train.py configs/fna/retinanet_mbv2_shapes.py \
#       --cfg-options fna.seed.checkpoint=work_dirs/demo/seed_cls/epoch_12.pth
_base_ = ['./retinanet_mbv2.py', '../_base_/shapes_fna_retinanet.py']

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
# the search with a budget at the seed's MAdds (lambda 0.3, two-sided): the demo compares the adapted
# detector with the seed at equal MAdds, as Table 4 does; `train_cfg.cost_target=None
# train_cfg.lam=0.08` searches with the paper's Eq. 8 instead
train_cfg = {{_base_.shapes_fna_det_search_at_seed_madds}}
param_scheduler = {{_base_.shapes_fna_det_search_schedule}}
optim_wrapper = {{_base_.shapes_fna_det_optim_wrapper}}
auto_scale_lr = {{_base_.shapes_fna_det_auto_scale_lr}}
default_hooks = {{_base_.shapes_fna_det_default_hooks}}
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
fna = {{_base_.shapes_fna_det_fna}}
