# DNA's search recipe on ImageNet (Sec. 4.1), shared by the configs/dna/*_in1k.py configs: 15 warm-up
# epochs of phase 1, then 25 rounds of phase 1 (1.5 epochs; M = 2 random sub-networks + the full +
# the smallest per step, SGD 0.2 -> 0.02 cosine) and phase 2 (0.5 epoch; Adam 0.01, lambda_F 0.1);
# channels in K = 10 groups per layer. The target network (the expected network, Sec. 3.5) is then
# trained from scratch with the seed's own mmpretrain recipe. A config inheriting this sets the seed
# (model.backbone), dna.budget or dna.budget_ratio, and dna.cost.
dna = dict(
    seed=dict(checkpoint=None),  # the seed's ImageNet weights, e.g. a remapped torchvision checkpoint
    search=dict(rounds=25, warmup_epochs=15, phase1_epochs=1.5, phase2_epochs=0.5, num_subnets=2, groups=10,
                max_groups=20, max_blocks=2, width=True, depth=True, lam=0.1, budget_loss='log',
                arch_optim=dict(type='Adam', lr=0.01, betas=(0.9, 0.999), weight_decay=0.0), arch_ratio=0.25,
                derive='expected', lr_min_ratio=0.1,
                optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.2, momentum=0.9, nesterov=True,
                                                  weight_decay=4e-5),
                                   paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))),
    cost=dict(input_size=(224, 224), num_classes=1000),
    target=dict(init='scratch'),
    compare=(),  # the seeds' and the uniformly scaled seeds' accuracies are the papers' (Tables 1-3)
)
