# Network Adjustment of ResNet-18 0.8x on ImageNet (Table 4: 1.17G MAdds): widths 51/102/204/408,
# stem 51 ('resnet18_x0.8_padded'); otherwise the ResNet-18 recipe.
_base_ = './resnet18_in1k.py'
model = dict(backbone=dict(spec='resnet18_x0.8_padded'))
