# DNA, MobileNetV2 1.0 -> 580M MAdds (Table 2, the budget of MobileNetV2 1.4x; paper: 76.2%). Units may
# grow to 20 groups (2x) and stages by up to 3 blocks.
_base_ = ['../imagenet/mobilenetv2_in1k.py', './_dna_in1k_.py']
dna = dict(budget=580e6, search=dict(max_blocks=3))
