# DNA, MobileNetV1 1.0 at 128x128 -> 49M MAdds (Table 7, the budget of MobileNetV1 0.5x; paper: 58.9%).
# MobileNetV1 has no identity shortcuts, so only widths are searched (a layer of a plain stage cannot
# be removed or added without changing its neighbours' widths).
_base_ = ['mmpretrain::mobilenet_v2/mobilenet-v2_8xb32_in1k.py', './_dna_in1k_.py']
custom_imports = dict(imports=['mmadapt'], allow_failed_imports=False)
model = dict(backbone=dict(_delete_=True, type='mmadapt.DerivedMobileNetV1', spec='mobilenet_v1', out_indices=(4, )),
             head=dict(in_channels=1024))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=128),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=146, edge='short'),
    dict(type='CenterCrop', crop_size=128),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
dna = dict(budget=49e6, cost=dict(input_size=(128, 128)), search=dict(depth=False))
