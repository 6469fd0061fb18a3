# Beyond the paper: Network Adjustment of a detector's backbone, RetinaNet-MobileNetV2 on the built-in
# shapes detection data (nothing in FUR is specific to classification: the FUR metric is the
# detector's own training loss on the hold-out split). The cost is the backbone's MAdds at the
# detector's input size (the neck reads the stage widths and follows them each round; its own
# MAdds are not part of the sensitivities). Selection: hold-out bbox mAP.
#   python tools/train.py configs/network_adjustment/retinanet_mbv2_shapes.py
_base_ = '../baselines/retinanet_mbv2_shapes.py'
# the hold-out split comes from the training images: evaluate it against the training annotations
val_evaluator = dict(ann_file='data/shapes_det/annotations/train.json')
network_adjustment = dict(
    rounds=4,
    cost=dict(type='madds', input_size=(128, 128), num_classes=None),
    holdout=dict(size=0.1, seed=0),
    fur=dict(base_rate=0.1, repeats=2, metric='loss'),
    adjust=dict(k=4, k_decay=1, rate=0.1, min_width=8),
    dropout=dict(p=0.05, epoch_ramp=True, depth_ramp=False),
    select_metric='coco/bbox_mAP',
)
