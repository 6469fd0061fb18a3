# DNA, ResNet-50 -> 3.0G MAdds (Tables 3, 6; paper: 76.9% at 2.8G).
_base_ = './resnet50_4.1g_in1k.py'
dna = dict(budget_ratio=None, budget=3.0e9)
