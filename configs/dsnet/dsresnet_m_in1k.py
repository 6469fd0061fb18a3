# DS-ResNet-M (Table 2: 2.2B, 76.1%): DS-ResNet-L's supernet; Stage II on CE + complexity + SGS (Table 6).
_base_ = './dsresnet_l_in1k.py'
train_cfg = dict(lambdas=(1.0, 0.5, 1.0))
