# MobileNetV2 on the built-in shapes data at 32x32 (see mobilenetv2_in1k.py), CPU-sized rounds.
_base_ = './resnet20_shapes.py'
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV2', spec='mobilenet_v2', out_indices=(7, )),
             head=dict(in_channels=1280))
network_adjustment = dict(adjust=dict(k=6, k_decay=1, rate=0.1, rate_decay=0, min_width=8),
                          dropout=dict(depth_ramp=False))
