# DS-ResNet-L on the built-in shapes classification data (64x64, easy and hard images), CPU-sized: a
# 4-stage bottleneck ResNet at a quarter of ResNet-50's widths, one block per stage, GroupNorm (8
# groups) with the last norm of each block zero-initialised, a gate per stage with rho in
# {0.25, 0.5, 0.75, 1} (256 routes), attention in every block. L / M / S differ in Stage II's losses
# as dsresnet_l/m/s_in1k.py (Table 6). The summary lists the 4 uniform routes beside the dynamic one.
#   python tools/train.py configs/dsnet/dsresnet_l_shapes.py
_base_ = './dsmbnet_l_shapes.py'
ds_resnet = dict(
    name='ds_resnet_shapes', family='resnet', block='bottleneck', act='relu',
    stem=dict(out_channels=16, kernel=3, stride=2, pool=True),
    stages=[dict(out_channels=64, stride=1, blocks=['k3g1']),
            dict(out_channels=128, stride=2, blocks=['k3g1']),
            dict(out_channels=256, stride=2, blocks=['k3g1']),
            dict(out_channels=512, stride=2, blocks=['k3g1'])])
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticResNet', spec=ds_resnet, out_indices=(3, ),
                           norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)),
                  gates=[dict(stages=[s], ratios=[0.25, 0.5, 0.75, 1.0]) for s in range(4)],
                  attention='all', attention_ratio=0.25, attention_divisor=8, zero_init_last_norm=True),
    head=dict(in_channels=512))
train_cfg = dict(lambdas=(0.0, 0.0, 1.0))
