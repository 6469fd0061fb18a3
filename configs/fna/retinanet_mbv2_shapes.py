# FNA++ on the built-in shapes detection data: RetinaNet with a MobileNetV2 seed (CPU-sized).
# Inherits the RetinaNet-MobileNetV2 baseline and changes only the backbone (the Table 1 `det`
# super-net, remapped from the seed) and the loop (architecture adaptation); `fna` describes the
# rest of the pipeline. Run:
#   python tools/train.py configs/fna/retinanet_mbv2_shapes.py \
#       --cfg-options fna.seed.checkpoint=work_dirs/demo/seed_cls/epoch_12.pth
_base_ = '../baselines/retinanet_mbv2_shapes.py'

image_size = (128, 128)
model = dict(
    backbone=dict(
        _delete_=True, type='mmadapt.SuperMobileNetV2', spec='fna_mbv2_det', out_indices=(2, 4, 6),
        input_size=image_size, norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False))

# ---- architecture adaptation (Sec. 3.2.2): warm-up, then alternating weight / architecture steps ----
train_cfg = dict(
    _delete_=True, type='mmadapt.ArchAdaptLoop', max_epochs=6, warmup_epochs=2, val_interval=6,
    lam=0.05,  # a light pull towards fewer MAdds (the paper's value is deferred to FNA [31])
    arch_ratio=0.5,  # the paper splits COCO half / half
    weight_steps=1,
    arch_optim=dict(type='Adam', lr=3e-3, betas=(0.5, 0.999), weight_decay=0.0),
    cost_input_size=image_size)
find_unused_parameters = True  # one path per weight step: the other candidates get no gradient

fna = dict(
    seed=dict(checkpoint=None, spec='mobilenet_v2'),
    cost_input_size=image_size,
    search=dict(type='diff'),
    arch=dict(init='remap'),
    param=dict(
        init='super',
        # parameter adaptation: the baseline's 12-epoch schedule
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=12, val_interval=12)),
    seed_baseline=False)
