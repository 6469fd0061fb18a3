# NetAdaptV2, the MAdds search of Table 2 (App. A.1, B): the latency space's widths x1.25 and one more
# block at 7x7 (netadaptv2_space_madds.yaml), 11 widths per layer, MCD with L = 15, r0 = 2.5%,
# d = 0.98, to 311M multiply-adds of conv and FC layers with the classifier: the paper's 314M counts
# SE scaling, pools and residual adds too, about 1% more (see the README).
_base_ = ['mmpretrain::mobilenet_v3/mobilenet-v3-large_8xb128_in1k.py', './_netadaptv2_in1k_.py']
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV3', spec='netadaptv2_space_madds',
                           out_indices=(6, )),
             head=dict(in_channels=1280))
param_scheduler = dict(type='StepLR', by_epoch=True, step_size=3, gamma=0.963)
netadaptv2 = dict(
    space=dict(widths=11),
    search=dict(num_layers=15, r0=0.025),
    budget=311e6,
    cost=dict(type='madds', input_size=(224, 224), num_classes=1000),
)
