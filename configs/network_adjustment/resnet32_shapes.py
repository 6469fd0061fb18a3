# Network Adjustment of ResNet-32 (CIFAR form) on the built-in shapes data: resnet20_shapes.py with another seed.
_base_ = './resnet20_shapes.py'
model = dict(backbone=dict(spec='resnet32_cifar'))
