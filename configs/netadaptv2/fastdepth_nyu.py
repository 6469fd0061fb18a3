# NetAdaptV2 on NYU Depth V2 (Table 7, App. A.2, B): FastDepth (MobileNetV1 encoder + NNConv5 decoder,
# ../_base_/fastdepth_nyu.py) as the initial network, its encoder searched with the bypass limits of
# App. B for FastDepth (T = 16 x stride / 2: 112 -> 16, ..., 7 -> 256), 9 widths and odd depthwise
# kernels up to the max; 2,000 training images held out; MCD with J = 150, r0 = 1.5%, d = 0.98 (the
# paper does not give L: 10 here) scored by delta1 on the held-out images; the found network trained
# by trajectory-based weight transfer (2 epochs per step) then to convergence.
# The decoder is not searched: its widths are FastDepth's and it reads the encoder's outputs
# zero-padded to the max widths (Table 10's decoder widths equal the encoder's skip widths; searching
# them with tied skip widths is not built). The initial weights: netadaptv2.seed.checkpoint (the
# paper's encoder is ImageNet-pretrained).
_base_ = ['../_base_/fastdepth_nyu.py']
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
netadaptv2 = dict(
    seed=dict(checkpoint=None),
    holdout=dict(size=2000, seed=0),
    bypass=16,
    space=dict(widths=9, kernels=(3, 5), divisor=1, elastic_head=False),
    supernet=dict(epochs=None),
    search=dict(num_samples=150, num_layers=10, r0=0.015, decay=0.98, recal_batches=10, metric='d1'),
    budget_ratio=0.6,
    cost=dict(type='latency', input_size=(224, 224), device='cpu', threads=1, warmup=10, repeats=30),
    final=dict(init='trajectory', transfer_epochs=2, transfer_every=1, epochs=None),
    compare=('seed', ),
)
