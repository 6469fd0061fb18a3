# RetinaNet with the ImageNet ResNet-50 seed on COCO: the seed row of FNA++ Table 8 (37.97M params,
# 202.84B MAdds at 1088x800; count_cost gives 37.97M / 202.78B). mmdet's RetinaNet-R50 1x recipe.
# Set the seed checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = './retinanet_r18_seed.py'

seed_spec = 'resnet50'
model = dict(
    backbone=dict(spec=seed_spec, init_cfg=dict(source_spec=seed_spec)),
    neck=dict(in_channels=[256, 512, 1024, 2048]))
train_dataloader = dict(batch_size=2)  # mmdet's R50 recipe: 8 GPUs x 2
auto_scale_lr = dict(enable=False, base_batch_size=16)
