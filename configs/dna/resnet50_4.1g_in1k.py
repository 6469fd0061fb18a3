# DNA, ResNet-50 -> 4.1G MAdds (Table 1, F_T = F_S; paper: 77.6%). A bottleneck's two inner convs share
# one hidden width in mmadapt's specs, so each block has one inner width unit (DMCP and the paper's
# Fig. 4 give conv1 and conv2 one each).
_base_ = ['../imagenet/resnet50_in1k.py', './_dna_in1k_.py']
dna = dict(budget_ratio=1.0,
           search=dict(optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.2, momentum=0.9, nesterov=True,
                                                         weight_decay=1e-4),
                                          paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))))
