# fastdepth_nyu.py on the built-in shapes depth data at 64x64 (tools/data/make_shapes.py --task depth;
# CPU-sized): 100 of the 800 training images held out, the same space, search and trajectory transfer
# with fewer samples and short schedules, to 60% of the initial network's MAdds.
_base_ = ['../_base_/fastdepth_shapes.py']
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
netadaptv2 = dict(
    seed=dict(checkpoint='train'),
    holdout=dict(size=100, seed=0),
    bypass=16,
    space=dict(widths=9, kernels=(3, 5), divisor=1, elastic_head=False),
    supernet=dict(epochs=2),
    search=dict(num_samples=12, num_layers=10, r0=0.03, decay=0.98, recal_batches=2, metric='d1'),
    budget_ratio=0.6,
    cost=dict(type='madds', input_size=(64, 64)),
    final=dict(init='trajectory', transfer_epochs=1, transfer_every=4, epochs=2),
    compare=('seed', ),
)
