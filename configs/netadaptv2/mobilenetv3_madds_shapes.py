# mobilenetv3_madds_in1k.py on the built-in shapes classification data at 32x32 (CPU-sized: the same
# space and search settings, fewer samples per iteration, short schedules).
_base_ = ['./mobilenetv2_shapes.py']
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV3', spec='netadaptv2_space_madds',
                           out_indices=(6, )),
             head=dict(in_channels=1280))
netadaptv2 = dict(
    bypass=None,  # the space spec carries App. B's limits
    space=dict(widths=11, kernels=(3, 5, 7)),
    search=dict(num_samples=24, num_layers=15, r0=0.025, decay=0.98),
    budget_ratio=0.6,
    cost=dict(type='madds', input_size=(32, 32), num_classes=4),
)
