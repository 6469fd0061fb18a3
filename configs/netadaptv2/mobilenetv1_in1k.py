# NetAdaptV2's MobileNetV1 ablation (App. D, Table 11): MobileNetV1 with channel-level bypass on every
# pointwise conv (T = 8 x stride / 2, App. B), OD super-network, MCD with J = 27, L = 4 (SCD, NetAdapt
# v1's optimiser: num_layers=1, num_samples=28, mobilenetv1_scd_in1k.py) to a latency target (the
# paper: 6.5 ms on its device; here a fraction of the measured latency of the initial network).
_base_ = ['mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py', './_netadaptv2_in1k_.py']
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV1', spec='mobilenet_v1', out_indices=(4, )),
             head=dict(in_channels=1024))
netadaptv2 = dict(
    bypass=8,
    space=dict(kernels=None),
    search=dict(num_samples=27, num_layers=4, r0=0.03),
    budget_ratio=0.5,
    cost=dict(type='latency', input_size=(224, 224), device='cpu', threads=1, warmup=10, repeats=30),
)
