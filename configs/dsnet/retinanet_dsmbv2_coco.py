# RetinaNet with a dynamic slimmable MobileNetV2 on COCO (mmdet's RetinaNet recipe, 1x): the detection
# counterpart of dsmbv2_in1k.py. One gate at the first block of stage 5 sets stages 5-7 to 50 / 75 /
# 100% per image; slimmed features are zero-padded, so the FPN is mmdet's. Stage I trains the sandwich
# of routes on the detection loss (12 epochs, mmdet's schedule), Stage II the gate with per-image SGS
# from detection losses (2 epochs; see configs/dsnet/retinanet_dsmbv2_shapes.py and the README). Start
# from ImageNet weights of the DS-MBV2 supernet (load_from or model.backbone.init_cfg), as the paper's
# detectors started from the ImageNet DS-MBNet.
#   python tools/train.py configs/dsnet/retinanet_dsmbv2_coco.py       (shapes: retinanet_dsmbv2_shapes.py)
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticMobileNetV2', spec='mobilenet_v2', out_indices=(2, 4, 6),
                           norm_cfg=dict(type='BN', requires_grad=True)),
                  gates=[dict(stages=[4, 5, 6], ratios=[0.5, 0.75, 1.0])],
                  attention='gated', attention_ratio=0.25, attention_divisor=8),
    neck=dict(in_channels=[32, 96, 320], start_level=0, add_extra_convs='on_input', num_outs=5))
stage1_epochs, stage2_epochs = 12, 2
train_cfg = dict(_delete_=True, type='mmadapt.DSNetLoop', stage1_epochs=stage1_epochs, stage2_epochs=stage2_epochs,
                 input_size=(800, 1333), num_classes=80, num_random=2, ema_decay=0.9998, stage2_from='model',
                 recal_batches=200, gate_lr=0.05, gate_lr_decay=0.9, lambdas=(1.0, 0.5, 1.0), sgs='try_best',
                 sgs_tolerance=0.1, latency_images=100, val_interval=stage1_epochs + stage2_epochs)
custom_hooks = [dict(type='mmadapt.DSNetStateHook')]
find_unused_parameters = True  # under DDP, a static route leaves the slimming head unused
