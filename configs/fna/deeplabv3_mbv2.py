# FNA++ for DeepLabv3 with a MobileNetV2 seed on Cityscapes, output stride 16 (Sec. 4.1, Table 2; search
# space: Table 1 `seg`). The search settings are deferred to FNA [31] by the paper; those here are noted.
# Seed row: ./deeplabv3_mbv2_seed.py. Output stride 8: ./deeplabv3_mbv2_os8.py.
#   python tools/train.py configs/fna/deeplabv3_mbv2.py --cfg-options fna.seed.checkpoint=PATH
_base_ = './deeplabv3_mbv2_seed.py'

search_size = (1024, 2048)  # MAdds of Table 2 are at 1024x2048
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.SuperMobileNetV2', spec='fna_mbv2_seg_os16', out_indices=(6, ),
                  input_size=search_size, norm_cfg=dict(type='SyncBN', requires_grad=True)))
train_cfg = dict(
    _delete_=True, type='mmadapt.ArchAdaptLoop', max_epochs=40, val_interval=40,
    warmup_epochs=20,  # not stated; half of the search, as the pose search
    arch_ratio=0.5, lam=0.08,  # not stated for segmentation; the RetinaNet value
    arch_optim=dict(type='Adam', lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3),
    cost_input_size=search_size)
param_scheduler = [dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=40, by_epoch=True)]
# the search loop counts epochs: a sampler that ends (mmseg's recipe uses an infinite one)
train_dataloader = dict(sampler=dict(type='DefaultSampler', shuffle=True))
find_unused_parameters = True
fna = dict(
    seed=dict(checkpoint=None, spec='mobilenet_v2_os16'),
    cost_input_size=search_size,
    param=dict(
        init='super',
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=100000, val_interval=10000),
        param_scheduler=[dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=100000, by_epoch=False)]))
