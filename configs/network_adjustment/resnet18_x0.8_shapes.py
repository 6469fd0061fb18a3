# ResNet-18 0.8x on the built-in shapes data (see resnet18_shapes.py).
_base_ = './resnet18_shapes.py'
model = dict(backbone=dict(spec='resnet18_x0.8_padded'), head=dict(in_channels=408))
