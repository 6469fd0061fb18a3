# RetinaNet with the ImageNet ResNet-18 seed on COCO: the seed row of FNA++ Table 8 (21.41M params,
# 160.28B MAdds at 1088x800; count_cost gives 21.41M / 160.22B). mmdet's RetinaNet 1x recipe.
# Set the seed checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

seed_spec = 'resnet18'
model = dict(
    backbone=dict(
        _delete_=True, type='mmadapt.DerivedResNet', spec=seed_spec, out_indices=(0, 1, 2, 3), frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=True,
        init_cfg=dict(type='mmadapt.Remap', checkpoint=None, source='seed', source_spec=seed_spec)),
    neck=dict(in_channels=[64, 128, 256, 512]))
train_dataloader = dict(batch_size=4)  # x 8 GPUs = 32, as the MobileNetV2 experiments
