# DS-Net's ImageNet recipe (Sec. 4, App. A), shared by configs/dsnet/*_in1k.py. Stage I (IEB): SGD
# (Nesterov, as the public code's timm SGD), batch 512 (8 GPUs x 64), lr 0.08 (DS-MBNet; DS-ResNet 0.2),
# 5 warm-up epochs, cosine to 1% over 150 epochs, weight decay 1e-4; the widest route on the labels, 2
# random routes on the EMA widest, the slimmest on the EMA ensemble; EMA decay 0.997 per step (the
# paper gives none; the public code's). Stage II: 10 epochs, SGD lr 0.05 x0.9 per epoch, no weight
# decay on the gates, lambda = (1, 0.5, 1), SGS "try best". The paper trains without label smoothing,
# RandAugment or dropout (the public code uses label smoothing 0.1, RandAugment and dropout 0.2:
# set model.head.loss and the pipeline to follow it). A config inheriting this sets model.backbone,
# model.head.in_channels and, for DS-ResNet, the Stage I learning rate.
_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
train_dataloader = dict(batch_size=64)
val_dataloader = dict(batch_size=64)
test_dataloader = val_dataloader
model = dict(
    backbone=dict(_delete_=True),  # set by the inheriting config (an mmadapt.DSBackbone)
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=1024, topk=(1, 5),
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
stage1_epochs, stage2_epochs = 150, 10
train_cfg = dict(_delete_=True, type='mmadapt.DSNetLoop', stage1_epochs=stage1_epochs, stage2_epochs=stage2_epochs,
                 input_size=(224, 224), num_classes=1000, num_random=2, ema_decay=0.997, ensemble=True,
                 stage2_from='ema', recal_batches=1000, gate_lr=0.05, gate_lr_decay=0.9, gate_momentum=0.9,
                 gate_weight_decay=0.0, lambdas=(1.0, 0.5, 1.0), sgs='try_best', tau=1.0, gate_params='slim',
                 latency_images=200, val_interval=1)
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='SGD', lr=0.08, momentum=0.9, nesterov=True, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))  # timm skips 1-D parameters
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5 / 0.08, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=stage1_epochs - 5, by_epoch=True, begin=5, end=stage1_epochs,
         eta_min_ratio=0.01, convert_to_iter_based=True)
]
custom_hooks = [dict(type='mmadapt.DSNetStateHook')]
find_unused_parameters = True  # under DDP, a static route leaves the slimming heads unused
auto_scale_lr = dict(base_batch_size=512)
