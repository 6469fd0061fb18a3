# DNA, ResNet-50 -> 2.3G MAdds (Table 6, the budget of ResNet-50 0.75x; paper: 76.2%).
_base_ = './resnet50_4.1g_in1k.py'
dna = dict(budget_ratio=None, budget=2.3e9)
