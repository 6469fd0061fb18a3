# DNA, ResNet-18 -> 1.08G MAdds (Tables 3, 5, 6; paper: 68.5%). The paper calls this budget "0.85x",
# but ResNet-18 with every width x0.85 costs 1.31G; 1.08G is about x0.77 (the notes, A26).
_base_ = './resnet18_1.8g_in1k.py'
dna = dict(budget_ratio=None, budget=1.08e9)
