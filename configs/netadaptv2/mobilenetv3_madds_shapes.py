# mobilenetv3_madds_in1k.py on the built-in shapes classification data at 32x32 (CPU-sized: the same
# space and search settings, fewer samples per iteration, short schedules).
_base_ = ['./mobilenetv3_latency_shapes.py']
model = dict(backbone=dict(spec='netadaptv2_space_madds'), head=dict(in_channels=1280))
netadaptv2 = dict(
    space=dict(widths=11),
    search=dict(num_layers=15, r0=0.025),
    cost=dict(_delete_=True, type='madds', input_size=(32, 32), num_classes=4),
)
