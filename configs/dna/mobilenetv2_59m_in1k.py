# DNA, MobileNetV2 1.0 -> 59M MAdds (Table 3, the budget of MobileNetV2 0.35x; paper: 62.4% width +
# depth, 62.9% width only). A fifth of the seed's MAdds needs many rounds of one-group steps: units may
# shrink to their first group only, so the 25 rounds of the paper reach about 0.5x per unit at most.
_base_ = ['../imagenet/mobilenetv2_in1k.py', './_dna_in1k_.py']
dna = dict(budget=59e6)
