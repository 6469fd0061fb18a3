# DNA, MobileNetV2 1.0 -> 210M MAdds (Table 3, the budget of MobileNetV2 0.75x; paper: 72.4%).
_base_ = ['../imagenet/mobilenetv2_in1k.py', './_dna_in1k_.py']
dna = dict(budget=210e6)
