# What the shapes variants of the FNA DeepLab configs (configs/fna/deeplabv3*_shapes.py) put over
# their paper config: the built-in data (./datasets/shapes_seg.py, inherited here), plain BN and a
# short schedule (a 6-epoch search with 2 of warm-up, 400 iterations of parameter adaptation). Names
# carry a prefix so that this file can sit beside the paper config in `_base_`; a config takes them
# over, e.g. `train_cfg = {{_base_.shapes_fna_seg_search}}`.
_base_ = ['./datasets/shapes_seg.py']
shapes_fna_seg_size = {{_base_.shapes_seg_crop_size}}  # (H, W)
shapes_fna_seg_norm_cfg = dict(type='BN', requires_grad=True)  # one CPU process: no SyncBN
shapes_fna_seg_search = dict(max_epochs=6, warmup_epochs=2, val_interval=6, cost_input_size=shapes_fna_seg_size)
shapes_fna_seg_search_schedule = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=6, by_epoch=True)]
shapes_fna_seg_optim_wrapper = dict(optimizer=dict(lr=0.01))
shapes_fna_seg_default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(by_epoch=False, interval=100000, max_keep_ckpts=2))
shapes_fna_seg_fna = dict(
    cost_input_size=shapes_fna_seg_size,
    param=dict(
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=400, val_interval=400),
        param_scheduler=[dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=400, by_epoch=False)]))
