# The built-in shapes detection data (tools/data/make_shapes.py --task det), for mmdet RetinaNet-style
# configs (128 px images, COCO-format annotations). Names carry a `shapes_det_` prefix so that this
# file can sit beside a framework config in `_base_`; a config takes them over, e.g.
# `train_dataloader = {{_base_.shapes_det_train_dataloader}}`. The dicts merge into mmdet's COCO
# loaders (sampler, dataset type and backend args stay mmdet's).
shapes = dict(task='det', num_train=800, num_val=100, size=128, seed=0)
shapes_det_root = 'data/shapes_det/'
shapes_det_size = (128, 128)  # (H, W)
shapes_det_metainfo = dict(classes=('circle', 'square', 'triangle', 'star'),
                           palette=[(220, 20, 60), (0, 128, 255), (255, 200, 0), (60, 180, 75)])
shapes_det_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=shapes_det_size, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
shapes_det_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=shapes_det_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))
]
shapes_det_train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(
        data_root=shapes_det_root, metainfo=shapes_det_metainfo, ann_file='annotations/train.json',
        data_prefix=dict(img='images/train/'), filter_cfg=dict(filter_empty_gt=True),
        pipeline=shapes_det_train_pipeline))
shapes_det_val_dataset = dict(
    data_root=shapes_det_root, metainfo=shapes_det_metainfo, ann_file='annotations/val.json',
    data_prefix=dict(img='images/val/'), pipeline=shapes_det_test_pipeline)
# val and test loaders each hold their own dataset dict (a config that edits one leaves the other)
shapes_det_val_dataloader = dict(batch_size=8, num_workers=1, persistent_workers=True,
                                 dataset=dict(shapes_det_val_dataset))
shapes_det_test_dataloader = dict(shapes_det_val_dataloader, dataset=dict(shapes_det_val_dataset))
shapes_det_evaluator = dict(ann_file=shapes_det_root + 'annotations/val.json', metric='bbox')
