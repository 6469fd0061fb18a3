# DS-ResNet-M on the built-in data: dsresnet_l_shapes.py with Stage II on CE + complexity + SGS (Table 6).
_base_ = './dsresnet_l_shapes.py'
train_cfg = dict(lambdas=(1.0, 0.5, 1.0))
