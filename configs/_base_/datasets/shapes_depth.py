# The built-in shapes depth data (tools/data/make_shapes.py --task depth), for mmseg depth configs: NYU
# Depth V2's layout (images/{train,test}/*.jpg, annotations/{train,test}/*.png in mm), read by mmseg's
# NYUDataset unchanged; the generator's val images are in the `test` folders. Names carry a
# `shapes_depth_` prefix so that this file can sit beside another config in `_base_`; a config takes
# them over, e.g. `train_dataloader = {{_base_.shapes_depth_train_dataloader}}`.
shapes = dict(task='depth', num_train=800, num_val=100, size=64, seed=0)
shapes_depth_root = 'data/shapes_depth/'
shapes_depth_size = (64, 64)  # (H, W)
shapes_depth_max = 10.0  # m: the scenes' depths are 1-9.5 m
shapes_depth_meta_keys = ('img_path', 'depth_map_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor',
                          'flip', 'flip_direction')
shapes_depth_dataset = dict(_delete_=True, type='NYUDataset', data_root=shapes_depth_root)
shapes_depth_train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        shapes_depth_dataset, data_prefix=dict(img_path='images/train', depth_map_path='annotations/train'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs', meta_keys=shapes_depth_meta_keys)
        ]))
shapes_depth_val_dataset = dict(
    shapes_depth_dataset, test_mode=True,
    data_prefix=dict(img_path='images/test', depth_map_path='annotations/test'),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
        dict(type='PackSegInputs', meta_keys=shapes_depth_meta_keys)
    ])
# val and test loaders each hold their own dataset dict: a merge consumes the `_delete_` it sees
shapes_depth_val_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=True,
                                   sampler=dict(type='DefaultSampler', shuffle=False),
                                   dataset=dict(shapes_depth_val_dataset))
shapes_depth_test_dataloader = dict(shapes_depth_val_dataloader, dataset=dict(shapes_depth_val_dataset))
# every metric (d1, d2, d3, abs_rel, sq_rel, rmse, rmse_log, log10, silog) on all pixels: no NYU crop
# (each of val and test takes its own dict: a merge consumes the `_delete_` it sees)
shapes_depth_evaluator = dict(type='DepthMetric', min_depth_eval=1e-3, max_depth_eval=shapes_depth_max)
shapes_depth_val_evaluator = dict(shapes_depth_evaluator, _delete_=True)
shapes_depth_test_evaluator = dict(shapes_depth_evaluator, _delete_=True)
