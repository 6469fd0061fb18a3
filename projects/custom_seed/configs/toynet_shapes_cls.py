# Pre-train the ToyNet seed on the built-in shapes classification data (mmpretrain), as one would on
# ImageNet: its checkpoint is the seed of ./fcos_toynet_fna_shapes.py.
#   python tools/train.py projects/custom_seed/configs/toynet_shapes_cls.py --work-dir work_dirs/toynet_cls
_base_ = '../../../configs/baselines/mobilenetv2_shapes_cls.py'
custom_imports = dict(imports=['mmadapt', 'projects.custom_seed.toynet'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='ToyNet'), head=dict(in_channels=640))
