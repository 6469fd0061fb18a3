# DS-ResNet-S (Table 2: 1.2B, 74.6%): DS-ResNet-L's supernet; Stage II on complexity + SGS (Table 6).
_base_ = './dsresnet_l_in1k.py'
train_cfg = dict(lambdas=(0.0, 0.5, 1.0))
