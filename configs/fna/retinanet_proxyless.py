# FNA++ for RetinaNet with the proxyless_mobile seed on COCO (Sec. 4.5, Table 10; search space: Table 9).
# Seed row: ./retinanet_proxyless_seed.py. Everything else as ./retinanet_mbv2.py.
#   python tools/train.py configs/fna/retinanet_proxyless.py --cfg-options fna.seed.checkpoint=PATH
_base_ = './retinanet_mbv2.py'

model = dict(backbone=dict(spec='fna_proxyless_mobile'), neck=dict(in_channels=[40, 96, 320]))
fna = dict(seed=dict(spec='proxyless_mobile'))
