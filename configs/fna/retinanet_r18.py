# FNA++ for RetinaNet with a ResNet-18 seed on COCO (Sec. 4.4, Table 8; search space: Table 7).
# Search: images (1333, 800), SGD lr 0.02, weight decay 5e-5, lambda 0.08; the other search and training
# settings as the MobileNetV2 RetinaNet (./retinanet_mbv2.py). Seed row: ./retinanet_r18_seed.py.
#   python tools/train.py configs/fna/retinanet_r18.py --cfg-options fna.seed.checkpoint=resnet18.pth
_base_ = './retinanet_mbv2.py'

search_size = (800, 1333)
model = dict(
    backbone=dict(
        _delete_=True, type='mmadapt.SuperResNet', spec='fna_resnet18', out_indices=(0, 1, 2, 3),
        input_size=search_size, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False),
    neck=dict(in_channels=[64, 128, 256, 512], start_level=1))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=5e-5))
train_cfg = dict(cost_input_size=search_size, lam=0.08)
fna = dict(
    seed=dict(spec='resnet18'),
    cost_input_size=search_size,
    param=dict(cfg_options={'train_dataloader.batch_size': 4,
                            'optim_wrapper.optimizer.weight_decay': 1e-4}))
