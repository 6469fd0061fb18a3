# DS-MBNet-S (Table 2: 153M, 70.1%): DS-MBNet-L's supernet, the gate routing over rho in [0.35 : 0.05 : 0.5]
# (App. A: "to prevent routing to heavier sub-networks").
_base_ = './dsmbnet_l_in1k.py'
train_cfg = dict(gate_choices=[[0, 1, 2, 3]])
