# DNA, MobileNetV2 1.0 -> 300M MAdds (Table 1, F_T = F_S: the seed's own budget; paper: 295M, 73.6%).
#   python tools/train.py configs/dna/mobilenetv2_300m_in1k.py --cfg-options dna.seed.checkpoint=SEED.pth
_base_ = ['../imagenet/mobilenetv2_in1k.py', './_dna_in1k_.py']
dna = dict(budget_ratio=1.0)
