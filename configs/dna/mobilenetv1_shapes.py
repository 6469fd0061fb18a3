# DNA of MobileNetV1 (widths only: no identity shortcuts) on the built-in shapes classification data at
# 32x32 (CPU-sized; see mobilenetv2_shapes.py), to 60% of its MAdds.
_base_ = './mobilenetv2_shapes.py'
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV1', spec='mobilenet_v1', out_indices=(4, )),
             head=dict(in_channels=1024))
dna = dict(search=dict(depth=False))
