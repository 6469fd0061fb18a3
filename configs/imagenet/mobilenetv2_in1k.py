# The MobileNetV2 1.0 seed on ImageNet-1k (mmpretrain's recipe), as mmadapt's DerivedMobileNetV2:
# 300.8M MAdds and 3.50M params at 224x224 (count_cost.py --shape 224). Its checkpoints are seeds for
# every configs/fna/ config (format 'mmadapt', prefix 'backbone.'). Data: data/imagenet as mmpretrain
# expects it. To evaluate a torchvision / timm checkpoint, remap it first (tools/remap.py).
_base_ = 'mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV2', spec='mobilenet_v2', out_indices=(7, )))
