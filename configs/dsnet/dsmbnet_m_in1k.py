# DS-MBNet-M (Table 2: 319M, 72.8%): DS-MBNet-L's supernet, the gate routing over rho in [0.35 : 0.05 : 0.8]
# (the paper restricts the routing space per size but gives the range of S only; this range is ours).
_base_ = './dsmbnet_l_in1k.py'
train_cfg = dict(gate_choices=[list(range(0, 10))])
