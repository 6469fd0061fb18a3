# The public DS-MBNet's routing space (its release, not the paper's): stem 16; 32, 48, 48, 96, 96 fixed;
# one gate in the 6th block choosing one of 14 widths for the 512-stage (224..640, step 32) and the
# 1024-stage (736..1152, step 32) together; Swish; the attention heads as its SE (sigmoid, hidden widths
# a quarter of its 'largest' mode's channels). Per-route MAdds at 224 (conv + linear + pooling, its
# counter's convention) are 132.89M ... 565.45M, reproduced in tests/test_dsnet/test_dynamic.py.
_base_ = './_dsnet_in1k_.py'
ds_mbnet_public = dict(
    name='ds_mbnet_public', family='mbv1', act='swish',
    stem=dict(out_channels=16, kernel=3, stride=2),
    stages=[dict(out_channels=32, stride=1, blocks=['k3']),
            dict(out_channels=48, stride=2, blocks=['k3', 'k3']),
            dict(out_channels=96, stride=2, blocks=['k3', 'k3']),
            dict(out_channels=640, stride=2, blocks=['k3'] * 6),
            dict(out_channels=1152, stride=2, blocks=['k3', 'k3'])])
model = dict(
    backbone=dict(type='mmadapt.DSBackbone',
                  net=dict(type='mmadapt.ElasticMobileNetV1', spec=ds_mbnet_public, out_indices=(4, )),
                  gates=[dict(stages=[3, 4], widths=[list(range(224, 641, 32)), list(range(736, 1153, 32))])],
                  attention='all', attention_hidden=[6, 22, 42, 42, 66, 66, 160, 160, 160, 160, 160, 160, 288],
                  attention_act='sigmoid'),
    head=dict(in_channels=1152))
# the public code's own Stage I / II choices where they differ from the paper (its label smoothing 0.1:
# model.head.loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'))
train_cfg = dict(ensemble=False, stage2_epochs=30)
