# DS-MobileNetV2 on the built-in shapes classification data (64x64, easy and hard images), CPU-sized:
# MobileNetV2 1.0, one gate at the first block of stage 5 setting stages 5-7 to 50 / 75 / 100% (the
# pattern of dsmbv2_in1k.py).
#   python tools/train.py configs/dsnet/dsmbv2_shapes.py
_base_ = './dsmbnet_l_shapes.py'
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticMobileNetV2', spec='mobilenet_v2', out_indices=(7, )),
                  gates=[dict(stages=[4, 5, 6], ratios=[0.5, 0.75, 1.0])],
                  attention='all', attention_ratio=0.25, attention_divisor=8),
    head=dict(in_channels=1280))
