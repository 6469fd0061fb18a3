# Network Adjustment of ResNet-18 (zero-padded shortcuts) on the built-in shapes data at 32x32: the
# ImageNet setting's seed and rules (tie 'last', no depth ramp) with CPU-sized rounds.
_base_ = './resnet20_shapes.py'
model = dict(backbone=dict(spec='resnet18_padded', out_indices=(3, )), head=dict(in_channels=512))
network_adjustment = dict(
    cost=dict(tie='last'),
    fur=dict(base_rate=0.2),
    adjust=dict(k=6, k_decay=0, rate=0.1, rate_decay=0),
    dropout=dict(depth_ramp=False))
