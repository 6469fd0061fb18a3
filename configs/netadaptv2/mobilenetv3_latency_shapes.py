# mobilenetv3_latency_in1k.py on the built-in shapes classification data at 32x32 (CPU-sized: the same
# space and search settings, fewer samples per iteration, short schedules).
_base_ = ['./mobilenetv2_shapes.py']
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV3', spec='netadaptv2_space_latency',
                           out_indices=(6, )),
             head=dict(in_channels=1024))
netadaptv2 = dict(
    bypass=None,  # the space spec carries App. B's limits
    space=dict(widths=9, kernels=(3, 5, 7)),
    search=dict(num_samples=24, num_layers=10, r0=0.03, decay=0.98),
    budget_ratio=0.6,
    cost=dict(_delete_=True, type='latency', input_size=(32, 32), device='cpu', threads=1, warmup=5, repeats=15),
)
