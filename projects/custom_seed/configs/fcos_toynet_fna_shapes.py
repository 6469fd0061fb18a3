# FNA++ for FCOS (a detector the paper did not cover) with the ToyNet seed (a backbone mmadapt does not
# ship), on the built-in shapes detection data. Inherits mmadapt's FNA RetinaNet config for the data,
# the schedule, the search loop and the pipeline; swaps the detector for FCOS and the search space for
# one built around ToyNet (../specs/toynet_space.yaml).
#   python tools/train.py projects/custom_seed/configs/fcos_toynet_fna_shapes.py \
#       --cfg-options fna.seed.checkpoint=work_dirs/toynet_cls/epoch_12.pth
_base_ = '../../../configs/fna/retinanet_mbv2_shapes.py'
custom_imports = dict(imports=['mmadapt', 'projects.custom_seed.toynet'], allow_failed_imports=False)

image_size = (128, 128)
model = dict(
    _delete_=True,
    type='FCOS',
    data_preprocessor=dict(type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True, pad_size_divisor=32),
    # ToyNet's stages 3, 5, 7 (strides 8, 16, 32: 24, 48 and 160 channels)
    backbone=dict(type='mmadapt.SuperMobileNetV2', spec='projects/custom_seed/specs/toynet_space.yaml',
                  out_indices=(2, 4, 6), input_size=image_size),
    neck=dict(type='FPN', in_channels=[24, 48, 160], out_channels=64, start_level=0, add_extra_convs='on_output',
              num_outs=5, relu_before_extra_convs=True),
    bbox_head=dict(
        type='FCOSHead', num_classes=4, in_channels=64, stacked_convs=2, feat_channels=64,
        strides=[8, 16, 32, 64, 128], norm_cfg=dict(type='GN', num_groups=16, requires_grad=True),
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type='IoULoss', loss_weight=1.0),
        loss_centerness=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0)),
    test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                  max_per_img=100))
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))  # FCOS trains with gradient clipping
fna = dict(seed=dict(checkpoint=None, spec='projects/custom_seed/specs/toynet.yaml', format='toynet'))
