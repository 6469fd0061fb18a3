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
    # 6 search epochs instead of 14, so 200 architecture steps instead of ~26k: Adam moves each alpha
    # by at most lr per step, and the paper's 3e-4 (or 3e-3) leaves the distribution uniform after
    # 200 noisy steps (README, "The search on the built-in data"). lr 0.1 without weight decay lets
    # it concentrate (mean entropy about half of uniform's at the end).
    arch_optim=dict(lr=0.1, weight_decay=0.0))
# The same with a budget at the seed's own MAdds (`cost_target='seed'`, two-sided; beyond the paper,
# which reaches equal MAdds by choosing lambda): the seed and the adapted detector then compare at
# equal MAdds as in Table 4. For seeds that the search space can express (MobileNetV2, ResNets).
shapes_fna_det_search_at_seed_madds = dict(shapes_fna_det_search, lam=0.3, cost_target='seed')
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
