# Network Adjustment of ResNet-56 on CIFAR-100 (Table 3): the ResNet-20 setting with another seed.
_base_ = './resnet20_cifar100.py'
model = dict(backbone=dict(spec='resnet56_cifar'))
