# FastDepth (./fastdepth_nyu.py: MobileNetV1 1.0 + NNConv5, L1 loss) on the built-in shapes depth data
# at 64x64 (./datasets/shapes_depth.py), CPU-sized: the same model, data and schedule changed only.
_base_ = ['./fastdepth_nyu.py', './datasets/shapes_depth.py']

# ---- data: built-in shapes (tools/data/make_shapes.py --task depth) ----
data_root = {{_base_.shapes_depth_root}}
crop_size = {{_base_.shapes_depth_size}}
max_depth = {{_base_.shapes_depth_max}}
train_dataloader = {{_base_.shapes_depth_train_dataloader}}
val_dataloader = {{_base_.shapes_depth_val_dataloader}}
test_dataloader = {{_base_.shapes_depth_test_dataloader}}
val_evaluator = {{_base_.shapes_depth_val_evaluator}}
test_evaluator = {{_base_.shapes_depth_test_evaluator}}
model = dict(data_preprocessor=dict(size=crop_size))

# ---- schedule: about a minute on 2 CPU cores ----
max_epochs = 4
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [dict(type='ExponentialLR', gamma=0.9, by_epoch=True, begin=0, end=max_epochs)]
default_hooks = dict(logger=dict(interval=10),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1, save_best=None))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)  # reproducible runs on the built-in data
