# DS-MBNet-L (Table 2: 565M average MAdds, 74.5% top-1): the paper's DS-MBNet. MobileNetV1 with the
# first 5 blocks fixed at rho = 0.5 (stem 16; 32, 64, 64, 128, 128), one gate after the 5th block that
# sets the width of the other 8 blocks, rho in [0.35 : 0.05 : 1.25] of 512 / 1024 (19 widths, the
# paper's list; it counts 18 paths), each rounded to a multiple of 8; ReLU; an attention head in every
# block. L: the gate routes over every width. S and M (dsmbnet_s/m_in1k.py) share the supernet and
# restrict the routing space in Stage II (App. A).
#   python tools/train.py configs/dsnet/dsmbnet_l_in1k.py        (shapes: configs/dsnet/dsmbnet_l_shapes.py)
_base_ = './_dsnet_in1k_.py'
rho = [round(0.35 + 0.05 * i, 2) for i in range(19)]
ds_mbnet = dict(
    name='ds_mbnet', family='mbv1', act='relu',
    stem=dict(out_channels=16, kernel=3, stride=2),
    stages=[dict(out_channels=32, stride=1, blocks=['k3']),
            dict(out_channels=64, stride=2, blocks=['k3', 'k3']),
            dict(out_channels=128, stride=2, blocks=['k3', 'k3']),
            dict(out_channels=640, stride=2, blocks=['k3'] * 6),
            dict(out_channels=1280, stride=2, blocks=['k3', 'k3'])])
model = dict(
    backbone=dict(type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticMobileNetV1', spec=ds_mbnet, out_indices=(4, )),
                  gates=[dict(stages=[3, 4],
                              widths=[[176, 208, 232, 256, 280, 304, 336, 360, 384, 408, 432, 464, 488, 512, 536,
                                       560, 592, 616, 640],
                                      [360, 408, 464, 512, 560, 616, 664, 720, 768, 816, 872, 920, 976, 1024, 1072,
                                       1128, 1176, 1232, 1280]])],
                  attention='all', attention_ratio=0.25, attention_divisor=8, attention_act='tanh'),
    head=dict(in_channels=1280))
train_cfg = dict(gate_choices=None)
