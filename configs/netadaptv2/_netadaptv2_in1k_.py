# NetAdaptV2's ImageNet recipe (Sec. 4.1.1, App. A), shared by configs/netadaptv2/*_in1k.py: 10,000
# training images held out for the search, ordered-dropout super-network training with the config's
# own recipe (the paper does not give its length: netadaptv2.supernet.epochs), MCD with J = 200
# samples per iteration, each sample's BN statistics recalibrated on 10 training batches, and the
# found network trained from scratch with the same recipe (the paper adds KD from OFA's network,
# which mmadapt does not ship). A config inheriting this sets the initial network (model.backbone),
# netadaptv2.cost and netadaptv2.budget.
netadaptv2 = dict(
    seed=dict(checkpoint=None),
    holdout=dict(size=10000, seed=0),
    bypass=None,  # the search-space specs carry their own bypass limits (App. B)
    space=dict(widths=9, kernels=(3, 5, 7), divisor=1, elastic_stem=False, elastic_head=True),
    supernet=dict(epochs=None, kernel_sampling='batch'),
    search=dict(num_samples=200, num_layers=10, r0=0.03, decay=0.98, criterion='accuracy', clamp=True,
                recal_batches=10, eval_mode='sequential', metric='accuracy/top1', seed=0),
    final=dict(init='scratch', epochs=None),
    compare=(),
)
