# Beyond the paper: Network Adjustment of MobileNetV2 1.0 on ImageNet (300M MAdds kept). Searched:
# the hidden width of every block with an expansion conv and the width of every stage (its blocks
# share it through identity shortcuts); the stem, the 1280-wide head conv and the classifier fixed.
# The ResNet-18 ImageNet recipe for the rounds.
_base_ = '../imagenet/mobilenetv2_in1k.py'
train_dataloader = dict(batch_size=64)
epochs = 10
optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', lr=0.2, momentum=0.9, weight_decay=4e-5))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True, begin=0, end=epochs, eta_min=1e-3)]
train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs)
randomness = dict(seed=2)
network_adjustment = dict(
    rounds=10,
    cost=dict(type='madds', input_size=(224, 224), num_classes=1000, tolerance=0.01),
    holdout=dict(size=50000, seed=0),
    fur=dict(base_rate=0.2, repeats=5),
    adjust=dict(k=6, k_decay=0, rate=0.1, min_width=8),
    dropout=dict(p=0.05, epoch_ramp=True, depth_ramp=False),
)
