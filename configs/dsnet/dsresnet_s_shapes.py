# DS-ResNet-S on the built-in data: dsresnet_l_shapes.py with Stage II on complexity + SGS (Table 6).
_base_ = './dsresnet_l_shapes.py'
train_cfg = dict(lambdas=(0.0, 0.5, 1.0))
