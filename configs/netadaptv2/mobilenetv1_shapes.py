# NetAdaptV2's MobileNetV1 ablation (App. D, Table 11) on the built-in shapes classification data at
# 32x32: MobileNetV1 as the initial network, every pointwise conv with a channel-level bypass (its
# layers can be removed), MCD to 60% of the MAdds (num_layers=1 makes it SCD, NetAdapt v1's optimiser,
# for the comparison of Table 11).
_base_ = './mobilenetv2_shapes.py'
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV1', spec='mobilenet_v1', out_indices=(4, )),
             head=dict(in_channels=1024))
netadaptv2 = dict(search=dict(num_layers=4))
