# Beyond the paper: DNA of a detector's backbone, RetinaNet-MobileNetV2 on the built-in shapes detection
# data, to 70% of the backbone's MAdds at 128x128 (the budget loss does not care what the task loss
# is: here it is RetinaNet's). The FPN reads the search network's padded outputs; the target's FPN
# reads its own widths. Every row trains with the baseline's recipe.
#   python tools/train.py configs/dna/retinanet_mbv2_shapes.py
_base_ = '../baselines/retinanet_mbv2_shapes.py'
dna = dict(
    seed=dict(checkpoint='train'),
    budget_ratio=0.7,
    search=dict(rounds=3, warmup_epochs=1, phase1_epochs=0.5, phase2_epochs=0.5, num_subnets=1, max_blocks=1, lam=1.0,
                arch_ratio=0.25, arch_optim=dict(type='Adam', lr=0.05, betas=(0.9, 0.999), weight_decay=0.0)),
    cost=dict(input_size=(128, 128), num_classes=None),
    compare=('seed', ),
)
