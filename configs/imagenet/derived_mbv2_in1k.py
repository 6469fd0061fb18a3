# An adapted MobileNetV2-like backbone (a derived spec, e.g. an FNA++ search's derived_final.yaml) on
# ImageNet-1k classification, with the MobileNetV2 recipe: train it, or evaluate it with tools/test.py.
#   python tools/train.py configs/imagenet/derived_mbv2_in1k.py \
#       --cfg-options model.backbone.spec=work_dirs/x/arch/derived_final.yaml
# The head's input width follows the spec's head conv (1280 for the Table 1 spaces).
_base_ = './mobilenetv2_in1k.py'
model = dict(backbone=dict(spec='mobilenet_v2'))
