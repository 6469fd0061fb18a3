# DNA on the built-in shapes classification data at 32x32: MobileNetV2 1.0 adapted to 60% of its MAdds
# (width and depth), CPU-sized: 1 warm-up epoch, 3 rounds of half an epoch of phase 1 and of phase 2
# (the paper: 15, 25, 1.5, 0.5 on ImageNet). The seed is trained first with the same recipe as every
# other row of the summary (seed, DNA target, uniformly scaled seed of equal MAdds), from scratch.
#   python tools/train.py configs/dna/mobilenetv2_shapes.py      (tools/demo.py --method dna runs it)
_base_ = '../_base_/shapes_cls32.py'
dna = dict(
    seed=dict(checkpoint='train'),  # train the seed with this recipe first; the search starts from it
    budget_ratio=0.6,
    search=dict(rounds=3, warmup_epochs=1, phase1_epochs=0.5, phase2_epochs=0.5, num_subnets=2, groups=10,
                # lambda_F = 1, not the paper's 0.1: the log loss pushes with 1 / (E - T), the weaker the
                # farther the budget, and in a run this short the task loss outweighs 0.1 of it at 60%
                max_groups=20, max_blocks=1, lam=1.0, arch_ratio=0.25,
                # alpha restarts each round: carried over, a round's lean towards shrinking (learnt while
                # above the budget) kept every unit shrinking in the next rounds below it (measured: 41%
                # of the seed's MAdds for a 60% budget); restarted, phase 2 sees where the network is now
                carry_alphas=False,
                arch_optim=dict(type='Adam', lr=0.05, betas=(0.9, 0.999), weight_decay=0.0),
                optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01))),
    cost=dict(input_size=(32, 32), num_classes=4),
    target=dict(init='scratch'),
    compare=('seed', 'uniform'),
)
