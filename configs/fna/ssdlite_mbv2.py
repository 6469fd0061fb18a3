# FNA++ for SSDLite with a MobileNetV2 seed on COCO at 320x320 (Sec. 4.2, Table 4; Table 1 `det` space).
# Search: 30 epochs, batch 128 (8 GPUs x 16); parameter adaptation: 60 epochs, batch 512 (the seed
# config's schedule). Other settings are deferred to FNA [31] by the paper; those here are noted.
# Seed row: ./ssdlite_mbv2_seed.py.
#   python tools/train.py configs/fna/ssdlite_mbv2.py --cfg-options fna.seed.checkpoint=PATH
_base_ = './ssdlite_mbv2_seed.py'

search_size = (320, 320)
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.SuperMobileNetV2', spec='fna_mbv2_det', out_indices=(4, 7),
                  input_size=search_size, norm_cfg=dict(type='BN', eps=0.001, momentum=0.03)))
# the search splits COCO itself: the plain training set, without mmdet's 5x repetition
train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        _delete_=True, type={{_base_.dataset_type}}, data_root={{_base_.data_root}},
        ann_file='annotations/instances_train2017.json', data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline={{_base_.train_pipeline}}))
train_cfg = dict(
    _delete_=True, type='mmadapt.ArchAdaptLoop', max_epochs=30, val_interval=30,
    warmup_epochs=15,  # not stated; half of the search, as the pose search
    arch_ratio=0.5, lam=0.08,  # lambda not stated for SSDLite; the paper's RetinaNet value
    arch_optim=dict(type='Adam', lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3),
    cost_input_size=search_size)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', begin=0, T_max=30, end=30, by_epoch=True, eta_min=0)
]
find_unused_parameters = True
fna = dict(
    seed=dict(checkpoint=None, spec='mobilenet_v2'),
    cost_input_size=search_size,
    param=dict(
        init='super',
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=2),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
            dict(type='CosineAnnealingLR', begin=0, T_max=12, end=12, by_epoch=True, eta_min=0)
        ],
        # back to the seed config's data: 5x repeated COCO, batch 64 per GPU
        cfg_options={'train_dataloader': {{_base_.train_dataloader}}}))
