# DNA, ResNet-18 -> 1.8G MAdds (Table 1, F_T = F_S; paper: 71.7%). ResNet recipe: weight decay 1e-4,
# retrained 100 epochs (mmpretrain's ResNet-18 recipe: 100 epochs).
_base_ = ['../imagenet/resnet18_in1k.py', './_dna_in1k_.py']
dna = dict(budget_ratio=1.0,
           search=dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.2, momentum=0.9, nesterov=True,
                                                         weight_decay=1e-4),
                                          paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))))
