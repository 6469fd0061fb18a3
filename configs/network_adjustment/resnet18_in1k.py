# Network Adjustment of ResNet-18 on ImageNet (Table 4): 1.81G MAdds kept, the 16 conv widths of the
# 8 basic blocks searched; the stem and the classifier fixed ("the first conv fixed").
#   python tools/train.py configs/network_adjustment/resnet18_in1k.py [--resume]
# The seed 'resnet18_padded' is torchvision's ResNet-18 with zero-padded identity shortcuts (a
# strided block keeps its 1x1 projection), so each block's widths are free. The public code's
# ImageNet recipe (notes 1.3): ten rounds of 10 epochs (about 10% of a full training), SGD weight
# decay 4e-5, lr 0.2 cosine to 1e-3 at 8 GPUs x 64, base drop 0.2, dropout ramped over epochs only,
# k = 6 every round, r_A = 0.1. FUR on 50,000 images held out of the training set (the public code
# used the official val set; the paper held out 50K training images, as here).
_base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedResNet', spec='resnet18_padded', out_indices=(3, )))

train_dataloader = dict(batch_size=64)
epochs = 10
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.2, momentum=0.9, weight_decay=4e-5))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True, begin=0, end=epochs, eta_min=1e-3)]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
auto_scale_lr = dict(base_batch_size=512)
randomness = dict(seed=2)

network_adjustment = dict(
    rounds=10,
    cost=dict(type='madds', input_size=(224, 224), num_classes=1000, tolerance=0.01, tie='last'),
    holdout=dict(size=50000, seed=0),
    fur=dict(base_rate=0.2, repeats=5, metric='loss', equal_flops=True),
    adjust=dict(k=6, k_decay=0, rate=0.1, rate_decay=0, min_width=4),
    dropout=dict(p=0.05, mode='bernoulli', epoch_ramp=True, depth_ramp=False),
)
