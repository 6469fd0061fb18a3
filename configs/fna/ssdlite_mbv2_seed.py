# SSDLite with the ImageNet MobileNetV2 seed on COCO at 320x320: the seed row of FNA++ Table 4 (4.3M params,
# 0.8B MAdds). count_cost gives 4.23M params (1.6% below) and 0.75B MAdds: mmdet's SSDLite, inherited
# here, performs 0.75B multiply-adds at 320x320; the 0.8B of the paper is the MobileNetV2 paper's figure
# for its TensorFlow model, rounded to one decimal. Trained with the parameter adaptation schedule of
# Sec. 4.2: 60 epochs (12 passes over mmdet's 5x repeated COCO), batch 512 (8 GPUs x 64); the rest is
# mmdet's SSDLite recipe. Set the seed checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = 'mmdet::ssd/ssdlite_mobilenetv2-scratch_8xb24-600e_coco.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

seed_spec = 'mobilenet_v2'
model = dict(
    backbone=dict(
        _delete_=True, type='mmadapt.DerivedMobileNetV2', spec=seed_spec, out_indices=(4, 7),
        norm_cfg=dict(type='BN', eps=0.001, momentum=0.03),
        init_cfg=dict(type='mmadapt.Remap', checkpoint=None, source='seed', source_spec=seed_spec)),
    # mmdet 3.3.0's SSDHead cannot predict (see mmadapt.SSDHead)
    bbox_head=dict(type='mmadapt.SSDHead'))
train_dataloader = dict(batch_size=64)  # x 8 GPUs = 512 (Sec. 4.2)
max_epochs = 12  # x 5 repeats = 60 epochs
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', begin=0, T_max=max_epochs, end=max_epochs, by_epoch=True, eta_min=0)
]
auto_scale_lr = dict(enable=False, base_batch_size=512)
