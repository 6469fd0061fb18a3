# SimpleBaseline (top-down heatmaps) with the ImageNet MobileNetV2 seed on MPII at 256x256: the seed row of
# FNA++ Table 6 (5.23M params, 6.09B MAdds). The backbone ends at the 320-channel stage (index 6, no
# 1280 conv) and feeds the three 256-channel deconvolutions, which gives the paper's 5.23M params.
# MAdds: the paper's 6.09B counts each 4x4 stride-2 transposed convolution as a convolution at its
# output resolution (4x the multiply-adds it performs); `count_cost.py --shape 256 256` gives 1.81B,
# and `--transposed-conv output` (the paper's convention) 6.09B.
# Batch 32 and SimpleBaseline's ResNet-50 schedule, as Sec. 4.3 states; the rest is mmpose's recipe.
# Set the seed checkpoint: --cfg-options model.backbone.init_cfg.checkpoint=PATH
_base_ = 'mmpose::body_2d_keypoint/topdown_heatmap/mpii/td-hm_mobilenetv2_8xb64-210e_mpii-256x256.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)

seed_spec = 'mobilenet_v2'
model = dict(
    backbone=dict(
        _delete_=True, type='mmadapt.DerivedMobileNetV2', spec=seed_spec, out_indices=(6, ),
        init_cfg=dict(type='mmadapt.Remap', checkpoint=None, source='seed', source_spec=seed_spec)),
    head=dict(in_channels=320))
train_dataloader = dict(batch_size=32)  # Sec. 4.3
auto_scale_lr = dict(enable=False, base_batch_size=32)
