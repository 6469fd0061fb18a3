# Table 11's NetAdapt v1 optimiser (SCD) on the MobileNetV1 ablation: one sample per layer (28), each
# shrinking only that layer.
_base_ = './mobilenetv1_in1k.py'
netadaptv2 = dict(search=dict(num_samples=28, num_layers=1))
