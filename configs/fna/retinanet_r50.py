# FNA++ for RetinaNet with a ResNet-50 seed on COCO (Sec. 4.4, Table 8; search space: Table 7).
# Search: batch 8 in total, images (1333, 800), SGD lr 0.01, weight decay 1e-4, lambda 0.08. Parameter
# adaptation: BN statistics recomputed for 200 iterations, then BN frozen, and mmdet's ResNet-50
# RetinaNet recipe. Seed row: ./retinanet_r50_seed.py.
#   python tools/train.py configs/fna/retinanet_r50.py --cfg-options fna.seed.checkpoint=resnet50.pth
_base_ = './retinanet_r18.py'

model = dict(backbone=dict(spec='fna_resnet50'), neck=dict(in_channels=[256, 512, 1024, 2048]))
train_dataloader = dict(batch_size=1)  # x 8 GPUs = 8 (Sec. 4.4)
optim_wrapper = dict(optimizer=dict(lr=0.01, weight_decay=1e-4))
fna = dict(
    seed=dict(spec='resnet50'),
    param=dict(
        bn_recalib=dict(iters=200, freeze=True),
        cfg_options={'train_dataloader.batch_size': 2, 'model.backbone.norm_eval': True,
                     'optim_wrapper.optimizer.lr': 0.01, 'optim_wrapper.optimizer.weight_decay': 1e-4}))
