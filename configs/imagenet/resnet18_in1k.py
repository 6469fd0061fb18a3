# The ResNet-18 seed on ImageNet-1k (mmpretrain's recipe) as mmadapt's DerivedResNet: 1.81G MAdds,
# 11.69M params at 224x224 (torchvision's ResNet-18).
_base_ = 'mmpretrain::resnet/resnet18_8xb32_in1k.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedResNet', spec='resnet18', out_indices=(3, )))
