# FNA++ for SimpleBaseline with a MobileNetV2 seed on MPII (Sec. 4.3, Table 6; search space: Table 1 `pose`).
# Search: 140 epochs, architecture updates from epoch 70, 20% of the training set for the architecture
# parameters, Adam lr 3e-3 without weight decay, lambda 3e-5, batch 32, 256x256 inputs (all as Sec. 4.3
# states). Parameter adaptation: SimpleBaseline's schedule (mmpose's 210 epochs). Seed row:
# ./simplebaseline_mbv2_seed.py.
#   python tools/train.py configs/fna/simplebaseline_mbv2.py --cfg-options fna.seed.checkpoint=PATH
_base_ = './simplebaseline_mbv2_seed.py'

search_size = (256, 256)
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.SuperMobileNetV2', spec='fna_mbv2_pose', out_indices=(6, ),
                  input_size=search_size))
train_cfg = dict(
    _delete_=True, type='mmadapt.ArchAdaptLoop', max_epochs=140, warmup_epochs=70, val_interval=10,
    arch_ratio=0.2, lam=3e-5, weight_steps=1,
    arch_optim=dict(type='Adam', lr=3e-3, betas=(0.5, 0.999), weight_decay=0.0),
    cost_input_size=search_size)
find_unused_parameters = True
fna = dict(
    seed=dict(checkpoint=None, spec='mobilenet_v2'),
    cost_input_size=search_size,
    param=dict(init='super', train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=210, val_interval=10)))
