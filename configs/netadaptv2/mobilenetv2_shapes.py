# NetAdaptV2 on the built-in shapes classification data at 32x32 (CPU-sized): MobileNetV2 1.0 as the
# initial network, trained first with this recipe (24 epochs) on the training set minus a held-out
# split of 400 images; channel-level bypass limits of App. B (T = 8 x stride / 2), a 9-point width
# grid; ordered-dropout super-network training from it (6 epochs, AdamW lr 1e-3: from scratch, or at
# the recipe's lr, a short OD training on this data leaves every sub-network near chance, see the
# README); MCD (J = 24, L = 4, r0 = 4%) to 60% of the initial network's MAdds with the held-out
# accuracy of each sample (BN recalibrated per sample); then the found network and the initial one
# trained on for 6 epochs from their slices of the super-network and tested.
#   python tools/train.py configs/netadaptv2/mobilenetv2_shapes.py
_base_ = '../_base_/shapes_cls32.py'
netadaptv2 = dict(
    seed=dict(checkpoint='train'),       # the initial network trained first with this recipe
    holdout=dict(size=400, seed=0),
    bypass=8,
    space=dict(widths=9, kernels=None, divisor=1),
    supernet=dict(epochs=6, optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01))),
    budget_ratio=0.6,
    cost=dict(type='madds', input_size=(32, 32)),
    search=dict(num_samples=24, num_layers=4, r0=0.04, decay=0.98, recal_batches=4, eval_mode='sequential'),
    final=dict(init='supernet', epochs=6),
    compare=('seed', ),
)
