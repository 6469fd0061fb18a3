# DNA, ResNet-18 -> 3.7G MAdds, the budget of ResNet-34 (Table 2; paper: 74.6%). Stages may grow to
# ResNet-34's depths and beyond (up to 4 blocks more each).
_base_ = './resnet18_1.8g_in1k.py'
dna = dict(budget_ratio=None, budget=3.66e9, search=dict(max_blocks=4))
