# An elastic MobileNetV2 classifier on the built-in shapes data: the baseline classifier with its
# backbone swapped for the weight-sharing one (one set of weights for every narrower, shallower,
# smaller-kernel sub-network). Trained as it is, it trains the max network; the methods built on
# elastic networks (DNA, DS-Net, NetAdaptV2) set sub-networks through the backbone's set_subnet().
# Export a sub-network as a plain derived network with
#   python tools/export_subnet.py configs/elastic/mobilenetv2_shapes_cls_elastic.py CKPT --subnet SPEC --out DIR
_base_ = '../baselines/mobilenetv2_shapes_cls.py'

model = dict(
    backbone=dict(_delete_=True, type='mmadapt.ElasticMobileNetV2', spec='mobilenet_v2', out_indices=(7, ),
                  # zero-pad a narrower sub-network's output to 1280 channels, so the classifier
                  # head built for the max network reads every sub-network
                  pad_outputs=True))
