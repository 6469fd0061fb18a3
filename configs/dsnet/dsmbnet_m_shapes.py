# DS-MBNet-M on the built-in data: dsmbnet_l_shapes.py's supernet, the gate restricted to its 3 slimmest widths.
_base_ = './dsmbnet_l_shapes.py'
train_cfg = dict(gate_choices=[[0, 1, 2]])
