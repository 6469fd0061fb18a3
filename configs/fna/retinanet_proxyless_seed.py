# RetinaNet with the ImageNet proxyless_mobile seed on COCO: the seed row of FNA++ Table 10 (12.07M params,
# 133.42B MAdds at 1088x800). Same schedule as ./retinanet_mbv2_seed.py (the paper trains the NAS seeds
# "using the same training hyper-parameters as ours", Sec. 4.5).
# Set the seed checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './retinanet_mbv2_seed.py'

seed_spec = 'proxyless_mobile'
model = dict(
    backbone=dict(spec=seed_spec, init_cfg=dict(source_spec=seed_spec)),
    neck=dict(in_channels=[40, 96, 320]))
