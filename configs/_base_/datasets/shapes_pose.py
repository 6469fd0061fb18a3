# The built-in shapes pose data (tools/data/make_shapes.py --task pose: stick figures, 7 keypoints),
# for mmpose top-down configs at 96x96. Names carry a `shapes_pose_` prefix so that this file can sit
# beside a framework config in `_base_`; a config takes them over, e.g.
# `train_dataloader = {{_base_.shapes_pose_train_dataloader}}`.
_base_ = ['./shapes_pose_info.py']
shapes = dict(task='pose', num_train=400, num_val=50, size=128, seed=0)
shapes_pose_root = 'data/shapes_pose/'
shapes_pose_codec = dict(type='MSRAHeatmap', input_size=(96, 96), heatmap_size=(24, 24), sigma=1)
shapes_pose_dataset = dict(_delete_=True, type='CocoDataset', data_root=shapes_pose_root, data_mode='topdown',
                           metainfo={{_base_.dataset_info}})
shapes_pose_train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True,
    dataset=dict(
        shapes_pose_dataset, ann_file='annotations/train.json', data_prefix=dict(img='images/train/'),
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale'),
            dict(type='RandomFlip', direction='horizontal'),
            dict(type='RandomBBoxTransform', shift_prob=0),
            dict(type='TopdownAffine', input_size=shapes_pose_codec['input_size']),
            dict(type='GenerateTarget', encoder=shapes_pose_codec),
            dict(type='PackPoseInputs')
        ]))
shapes_pose_val_dataset = dict(
    shapes_pose_dataset, ann_file='annotations/val.json', data_prefix=dict(img='images/val/'), test_mode=True,
    pipeline=[
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='TopdownAffine', input_size=shapes_pose_codec['input_size']),
        dict(type='PackPoseInputs')
    ])
# val and test loaders each hold their own dataset dict: a merge consumes the `_delete_` it sees
shapes_pose_val_dataloader = dict(batch_size=16, num_workers=1, persistent_workers=True,
                                  dataset=dict(shapes_pose_val_dataset))
shapes_pose_test_dataloader = dict(shapes_pose_val_dataloader, dataset=dict(shapes_pose_val_dataset))
shapes_pose_evaluator = [
    dict(type='CocoMetric', ann_file=shapes_pose_root + 'annotations/val.json'),
    dict(type='PCKAccuracy', thr=0.1, norm_item='bbox'),
]
