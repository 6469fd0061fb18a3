# DS-ResNet-L (Table 2: 3.1B, 76.6%): ResNet-50 with GroupNorm (the last norm of each block
# zero-initialised), a double-headed gate at the start of every block (attention in all, the slimming
# head in the first block of each stage), 4 gates with rho in {0.25, 0.5, 0.75, 1}: 256 routes. The
# stem stays at 64 channels (the paper's 4 gates control the stages only). L, M, S differ in Stage II's
# losses (Table 6): L = SGS ("try best") only; M = CE + complexity + SGS; S = complexity + SGS.
# Group norms of 8 groups (every width of every route is a multiple of 8; App. A asks for consistent
# groups). Where a stage's first width would equal its input (stage 1 at 0.25: 64 = the stem's 64),
# the route takes the next multiple of 8 (72) so that the projection shortcut stays a projection.
_base_ = './_dsnet_in1k_.py'
model = dict(
    backbone=dict(type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticResNet', spec='resnet50', out_indices=(3, ),
                           norm_cfg=dict(type='GN', num_groups=8, requires_grad=True)),
                  zero_init_last_norm=True,
                  gates=[dict(stages=[s], ratios=[0.25, 0.5, 0.75, 1.0]) for s in range(4)],
                  attention='all', attention_ratio=0.25, attention_divisor=8),
    head=dict(in_channels=2048))
optim_wrapper = dict(optimizer=dict(lr=0.2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-5 / 0.2, by_epoch=True, begin=0, end=5, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=145, by_epoch=True, begin=5, end=150, eta_min_ratio=0.01,
         convert_to_iter_based=True)
]
train_cfg = dict(lambdas=(0.0, 0.0, 1.0))
