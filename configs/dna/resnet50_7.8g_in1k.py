# DNA, ResNet-50 -> 7.8G MAdds, the budget of ResNet-101 (Tables 2, 6; paper: 78.8%). Stage 3 would need
# 17 more blocks to reach ResNet-101's depth; up to 6 more per stage here (memory of the search network).
_base_ = './resnet50_4.1g_in1k.py'
dna = dict(budget_ratio=None, budget=7.8e9, search=dict(max_blocks=6))
