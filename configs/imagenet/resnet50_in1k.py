# The ResNet-50 seed on ImageNet-1k (mmpretrain's recipe) as mmadapt's DerivedResNet: 4.09G MAdds,
# 25.56M params at 224x224 (torchvision's ResNet-50).
_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedResNet', spec='resnet50', out_indices=(3, )))
