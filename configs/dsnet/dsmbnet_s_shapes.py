# DS-MBNet-S on the built-in data: dsmbnet_l_shapes.py's supernet, the gate restricted to its 2 slimmest widths.
_base_ = './dsmbnet_l_shapes.py'
train_cfg = dict(gate_choices=[[0, 1]])
