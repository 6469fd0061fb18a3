# RetinaNet with the ImageNet MobileNetV2 seed on COCO: the seed row of FNA++ Table 4 (11.49M params,
# 133.05B MAdds at 1088x800; `python tools/analysis/count_cost.py THIS --shape 800 1088` gives
# 11.49M / 132.99B). Trained with the parameter adaptation schedule of Sec. 4.2: 12 epochs, batch 32
# (8 GPUs x 4); the rest is mmdet's RetinaNet 1x recipe. Set the seed checkpoint (torchvision, timm,
# mmpretrain, mmdet or mmadapt format): --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

seed_spec = 'mobilenet_v2'
model = dict(
    backbone=dict(
        _delete_=True, type='mmadapt.DerivedMobileNetV2', spec=seed_spec, out_indices=(2, 4, 6),
        norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False,
        init_cfg=dict(type='mmadapt.Remap', checkpoint=None, source='seed', source_spec=seed_spec)),
    # stages 3, 5, 7 (strides 8, 16, 32) -> P3-P7
    neck=dict(in_channels=[32, 96, 320], start_level=0, add_extra_convs='on_input', num_outs=5))
train_dataloader = dict(batch_size=4)  # x 8 GPUs = 32 (Sec. 4.2)
auto_scale_lr = dict(enable=False, base_batch_size=32)
