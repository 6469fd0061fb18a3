# The built-in shapes segmentation data (tools/data/make_shapes.py --task seg), for mmseg configs.
# Names carry a `shapes_seg_` prefix so that this file can sit beside a framework config in `_base_`;
# a config takes them over, e.g. `train_dataloader = {{_base_.shapes_seg_train_dataloader}}`.
shapes = dict(task='seg', num_train=400, num_val=50, size=128, seed=0)
shapes_seg_root = 'data/shapes_seg/'
shapes_seg_crop_size = (128, 128)
shapes_seg_dataset = dict(
    _delete_=True, type='BaseSegDataset', data_root=shapes_seg_root,
    metainfo=dict(classes=('background', 'circle', 'square', 'triangle', 'star'),
                  palette=[[0, 0, 0], [220, 20, 60], [0, 128, 255], [255, 200, 0], [60, 180, 75]]),
    img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False)
shapes_seg_train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(
        shapes_seg_dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='RandomResize', scale=(128, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
            dict(type='RandomCrop', crop_size=shapes_seg_crop_size, cat_max_ratio=0.9),
            dict(type='RandomFlip', prob=0.5),
            dict(type='PackSegInputs')
        ]))
shapes_seg_val_dataset = dict(
    shapes_seg_dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ])
# val and test loaders each hold their own dataset dict: a merge consumes the `_delete_` it sees
shapes_seg_val_dataloader = dict(batch_size=1, num_workers=1, persistent_workers=True,
                                 dataset=dict(shapes_seg_val_dataset))
shapes_seg_test_dataloader = dict(shapes_seg_val_dataloader, dataset=dict(shapes_seg_val_dataset))
shapes_seg_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
