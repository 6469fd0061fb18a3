# Network Adjustment of ResNet-56 (CIFAR form) on the built-in shapes data: resnet20_shapes.py with another seed.
_base_ = './resnet20_shapes.py'
model = dict(backbone=dict(spec='resnet56_cifar'))
