# FNA++ for DeepLabv3+ with a MobileNetV2 seed on Cityscapes, output stride 16 (Sec. 4.1, Table 2:
# the network searched on DeepLabv3 adapted to DeepLabv3+). mmseg's DeepLabv3+ head (separable ASPP,
# low-level features from the 24-channel stage); the paper gives no seed row for DeepLabv3+.
# Output stride 8: ./deeplabv3plus_mbv2_os8.py.
_base_ = './deeplabv3_mbv2.py'

model = dict(
    backbone=dict(out_indices=(1, 6)),
    decode_head=dict(
        _delete_=True, type='DepthwiseSeparableASPPHead', in_channels=320, in_index=1, channels=256,
        dilations=(1, 6, 12, 18), c1_in_channels=24, c1_channels=48, dropout_ratio=0.1, num_classes=19,
        norm_cfg=dict(type='SyncBN', requires_grad=True), align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))
