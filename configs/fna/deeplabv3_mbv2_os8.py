# FNA++ for DeepLabv3 at output stride 8 (Table 1 `seg` space with the last stages dilated further).
# Everything else as ./deeplabv3_mbv2.py; the ASPP dilations double at output stride 8.
_base_ = './deeplabv3_mbv2.py'

model = dict(backbone=dict(spec='fna_mbv2_seg_os8'), decode_head=dict(dilations=(1, 12, 24, 36)))
fna = dict(seed=dict(spec='mobilenet_v2_os8'))
