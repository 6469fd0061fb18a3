# DS-MobileNetV2 (beyond the paper; its App. B pattern for EfficientNet): MobileNetV2 1.0 with the first
# 4 stages fixed, one gate at the first block of stage 5 (96 channels) setting stages 5-7 to rho in
# {0.5, 0.625, 0.75, 0.875, 1}; the hidden width of every inverted residual follows its input width
# (expansion x input); the 1280-channel head conv keeps its width and reads the route's channels.
_base_ = './_dsnet_in1k_.py'
model = dict(
    backbone=dict(type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticMobileNetV2', spec='mobilenet_v2', out_indices=(7, )),
                  gates=[dict(stages=[4, 5, 6], ratios=[0.5, 0.625, 0.75, 0.875, 1.0])],
                  attention='all', attention_ratio=0.25, attention_divisor=8),
    head=dict(in_channels=1280))
