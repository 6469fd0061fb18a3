# A DS backbone in mmdet: RetinaNet with a dynamic slimmable MobileNetV2 on the built-in shapes detection
# data (CPU-sized; the paper used FSSD on VOC, Table 4, which mmdet does not have). One gate at the first
# block of stage 5 (96 channels) sets stages 5-7 to 50, 75 or 100% of their widths per image; the
# features of a slimmed stage are zero-padded to the stage's max width, so the FPN is unchanged.
# Stage I trains the sandwich (widest, 2 random, slimmest routes) on the detection loss (IEB's
# distillation is defined for classification); Stage II trains the gate with the detection loss
# through the masked forward, the complexity loss, and SGS targets from per-image losses: an image is
# easy when the slimmest route's detection loss on it is within 10% of the widest route's (sgs_tolerance).
# The summary compares the dynamic detector's mAP, average backbone MAdds and latency with every static route.
#   python tools/train.py configs/dsnet/retinanet_dsmbv2_shapes.py
_base_ = '../baselines/retinanet_mbv2_shapes.py'
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticMobileNetV2', spec='mobilenet_v2', out_indices=(2, 4, 6),
                           norm_cfg=dict(type='BN', requires_grad=True)),
                  gates=[dict(stages=[4, 5, 6], ratios=[0.5, 0.75, 1.0])],
                  attention='gated', attention_ratio=0.25, attention_divisor=8))
stage1_epochs, stage2_epochs = 12, 2
train_cfg = dict(_delete_=True, type='mmadapt.DSNetLoop', stage1_epochs=stage1_epochs, stage2_epochs=stage2_epochs,
                 input_size=(128, 128), num_classes=4, num_random=2, ema_decay=0.99, stage2_from='model',
                 recal_batches=20, gate_lr=0.05, gate_lr_decay=0.9, lambdas=(1.0, 0.5, 1.0), sgs='try_best',
                 sgs_tolerance=0.1, latency_images=50, val_interval=stage1_epochs + stage2_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=stage1_epochs, by_epoch=True, begin=0, end=stage1_epochs, eta_min=1e-4)
]
custom_hooks = [dict(type='mmadapt.DSNetStateHook')]
find_unused_parameters = True  # under DDP, a static route leaves the slimming head unused
