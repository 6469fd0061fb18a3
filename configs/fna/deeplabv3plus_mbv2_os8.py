# FNA++ for DeepLabv3+ at output stride 8; everything else as ./deeplabv3plus_mbv2.py.
_base_ = './deeplabv3plus_mbv2.py'

model = dict(backbone=dict(spec='fna_mbv2_seg_os8'), decode_head=dict(dilations=(1, 12, 24, 36)))
fna = dict(seed=dict(spec='mobilenet_v2_os8'))
