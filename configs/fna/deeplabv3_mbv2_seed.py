# DeepLabv3 with the ImageNet MobileNetV2 seed on Cityscapes, output stride 16: the seed row of FNA++
# Table 2 (2.57M params, 24.52B MAdds at 1024x2048; count_cost gives 2.57M / 24.52B). The head is
# FNA++'s: separable ASPP (1x1, dilations 6 / 12 / 18, image pooling; 256 channels) and a 1x1
# projection (mmadapt.SeparableASPPHead), on the 320-channel stage. Parameter adaptation schedule of
# Table 2: 100K iterations on 4 GPUs; the rest is mmseg's Cityscapes recipe.
# Set the seed checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = 'mmseg::mobilenet_v2/mobilenet-v2-d8_deeplabv3_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

seed_spec = 'mobilenet_v2_os16'
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    pretrained=None,
    backbone=dict(
        _delete_=True, type='mmadapt.DerivedMobileNetV2', spec=seed_spec, out_indices=(6, ), norm_cfg=norm_cfg,
        init_cfg=dict(type='mmadapt.Remap', checkpoint=None, source='seed', source_spec=seed_spec)),
    decode_head=dict(
        _delete_=True, type='mmadapt.SeparableASPPHead', in_channels=320, in_index=0, channels=256,
        dilations=(1, 6, 12, 18), dropout_ratio=0.1, num_classes=19, norm_cfg=norm_cfg, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None)
train_cfg = dict(max_iters=100000, val_interval=10000)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=100000, by_epoch=False)]
