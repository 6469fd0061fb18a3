# Network Adjustment (Chen et al., CVPR 2020) of ResNet-20 on CIFAR-100: the paper's Table 2-3 setting
# with the public code's recipe where the paper is silent (shared/notes/network_adjustment.md, 1.3).
#   python tools/train.py configs/network_adjustment/resnet20_cifar100.py [--resume]
# Ten rounds of 200 epochs each (round 0 trains the seed); every round trains from scratch on the
# training set minus a seeded 10% hold-out, measures the FLOPs utilisation ratio of each of the 18
# conv widths on the hold-out, grows the 6 (decaying) most useful and shrinks the 6 least, rescales
# back to 40.56M MAdds (the stem conv and the FC counted; 40.1M without the stem, as the paper
# writes it). The best round on the hold-out is the result (best_spec.yaml); retrain it on the whole
# training set with the seed's recipe (README, "Network Adjustment").
_base_ = [
    'mmpretrain::_base_/datasets/cifar100_bs16.py',
    'mmpretrain::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

model = dict(
    type='ImageClassifier',
    # CIFAR ResNet: 3x3 stem, three stages of 16/32/64 basic blocks, parameter-free zero-padded shortcuts
    backbone=dict(type='mmadapt.DerivedResNet', spec='resnet20_cifar', out_indices=(2, )),
    neck=dict(type='GlobalAveragePooling'),
    # in_channels follows the last stage's width in every round (the pipeline sets it)
    head=dict(type='LinearClsHead', num_classes=100, in_channels=64,
              loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))

train_dataloader = dict(batch_size=128, num_workers=2)
val_dataloader = dict(batch_size=256, num_workers=2)
test_dataloader = val_dataloader

# one round: SGD momentum 0.9, weight decay 3e-4, batch 128, lr 0.15 -> 1e-3 cosine, 200 epochs
epochs = 200
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.15, momentum=0.9, weight_decay=3e-4, nesterov=False))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True, begin=0, end=epochs, eta_min=1e-3)]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1))
randomness = dict(seed=2)

network_adjustment = dict(
    rounds=11,  # Table 2: the seed and ten adjustments
    init='scratch',
    cost=dict(type='madds', input_size=(32, 32), num_classes=100, tolerance=0.01, tie='first'),
    holdout=dict(size=5000, seed=0),
    fur=dict(base_rate=0.05, repeats=5, metric='loss', equal_flops=True),
    adjust=dict(k=6, k_decay=0.5, rate=0.15, rate_decay=0.01, min_width=4),
    dropout=dict(p=0.05, mode='bernoulli', epoch_ramp=True, depth_ramp=True),
)
