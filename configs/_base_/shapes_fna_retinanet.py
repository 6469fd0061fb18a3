# What the shapes variants of the FNA RetinaNet configs (configs/fna/retinanet_*_shapes.py) put over
# their paper config: the built-in data (./datasets/shapes_det.py, inherited here), CPU sizes (a
# 64-channel FPN and a 2-conv head for 128 px images of 4 classes) and a short schedule (a 6-epoch
# search with 2 of warm-up, 12 epochs of parameter adaptation). Names carry a prefix so that this
# file can sit beside the paper config in `_base_`; a config takes them over, e.g.
# `train_cfg = {{_base_.shapes_fna_det_search}}`.
_base_ = ['./datasets/shapes_det.py']
shapes_fna_det_size = {{_base_.shapes_det_size}}  # (H, W)
shapes_fna_det_model = dict(
    backbone=dict(input_size=shapes_fna_det_size),
    neck=dict(out_channels=64),
    bbox_head=dict(num_classes=4, in_channels=64, feat_channels=64, stacked_convs=2))
shapes_fna_det_search = dict(
    max_epochs=6, warmup_epochs=2, val_interval=6, cost_input_size=shapes_fna_det_size,
    # 6 search epochs instead of 14: the architecture optimizer takes larger steps
    arch_optim=dict(lr=3e-3))
shapes_fna_det_search_schedule = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=6, by_epoch=True, begin=0, end=6, eta_min=1e-4)
]
shapes_fna_det_optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=4e-5),
    clip_grad=dict(max_norm=10, norm_type=2))
shapes_fna_det_auto_scale_lr = dict(enable=False, base_batch_size=8)
shapes_fna_det_default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
shapes_fna_det_fna = dict(
    cost_input_size=shapes_fna_det_size,
    param=dict(
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=12),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
            dict(type='CosineAnnealingLR', T_max=12, by_epoch=True, begin=0, end=12, eta_min=1e-4)
        ],
        # the search's data and optimizer serve parameter adaptation too; these entries replace the
        # paper's COCO ones (merged with them: method settings such as R50's frozen BN stay)
        cfg_options={'train_dataloader.batch_size': 8,
                     'train_dataloader.dataset.pipeline.2.scale': shapes_fna_det_size,
                     'optim_wrapper.optimizer.lr': 0.02,
                     'optim_wrapper.optimizer.weight_decay': 4e-5}))
