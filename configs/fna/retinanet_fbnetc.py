# FNA++ for RetinaNet with the fbnet_c seed on COCO (Sec. 4.5, Table 10; search space: Table 9).
# Seed row: ./retinanet_fbnetc_seed.py. Everything else as ./retinanet_mbv2.py.
#   python tools/train.py configs/fna/retinanet_fbnetc.py --cfg-options fna.seed.checkpoint=PATH
_base_ = './retinanet_mbv2.py'

model = dict(backbone=dict(spec='fna_fbnet_c'), neck=dict(in_channels=[32, 112, 352]))
fna = dict(seed=dict(spec='fbnet_c'))
