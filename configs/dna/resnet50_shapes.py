# DNA of ResNet-50 (one inner width per bottleneck) on the built-in shapes classification data at 32x32
# (CPU-sized; see mobilenetv2_shapes.py), to 60% of its MAdds.
_base_ = './mobilenetv2_shapes.py'
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedResNet', spec='resnet50', out_indices=(3, )),
             head=dict(in_channels=2048))
