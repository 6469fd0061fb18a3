# Keypoint definition of the built-in shapes pose data (stick figures of
# mmadapt.datasets.shapes). Used as `metainfo` of mmpose's CocoDataset.
dataset_info = dict(
    dataset_name='shapes_pose',
    paper_info=dict(author='mmadapt', title='Built-in shapes data', container='mmadapt',
                    year='2026', homepage=''),
    keypoint_info={
        0: dict(name='head', id=0, color=[51, 153, 255], type='upper', swap=''),
        1: dict(name='neck', id=1, color=[51, 153, 255], type='upper', swap=''),
        2: dict(name='hip', id=2, color=[51, 153, 255], type='lower', swap=''),
        3: dict(name='left_hand', id=3, color=[0, 255, 0], type='upper', swap='right_hand'),
        4: dict(name='right_hand', id=4, color=[255, 128, 0], type='upper', swap='left_hand'),
        5: dict(name='left_foot', id=5, color=[0, 255, 0], type='lower', swap='right_foot'),
        6: dict(name='right_foot', id=6, color=[255, 128, 0], type='lower', swap='left_foot'),
    },
    skeleton_info={
        0: dict(link=('head', 'neck'), id=0, color=[51, 153, 255]),
        1: dict(link=('neck', 'hip'), id=1, color=[51, 153, 255]),
        2: dict(link=('neck', 'left_hand'), id=2, color=[0, 255, 0]),
        3: dict(link=('neck', 'right_hand'), id=3, color=[255, 128, 0]),
        4: dict(link=('hip', 'left_foot'), id=4, color=[0, 255, 0]),
        5: dict(link=('hip', 'right_foot'), id=5, color=[255, 128, 0]),
    },
    joint_weights=[1.0, 1.0, 1.0, 1.2, 1.2, 1.2, 1.2],
    # per-keypoint OKS falloff (as COCO's sigmas): ends of limbs are harder to place exactly
    sigmas=[0.05, 0.05, 0.05, 0.07, 0.07, 0.07, 0.07])
