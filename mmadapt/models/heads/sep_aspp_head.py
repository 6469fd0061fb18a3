"""The DeepLabv3 head of FNA++'s segmentation experiments: separable ASPP and a 1x1 projection."""
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.aspp_head import ASPPHead
from mmseg.models.decode_heads.sep_aspp_head import DepthwiseSeparableASPPModule

from mmadapt.registry import MODELS


@MODELS.register_module()
class SeparableASPPHead(ASPPHead):
    """DeepLabv3 head with depthwise separable atrous branches and a 1x1 projection.

    Image pooling, a 1x1 branch and depthwise separable 3x3 branches at ``dilations`` (dw 3x3 + BN +
    ReLU, pw 1x1 + BN + ReLU), concatenated and projected by a 1x1 conv (mmseg's ``ASPPHead`` uses a
    3x3 conv and plain atrous convs there). With a MobileNetV2 output-stride-16 backbone, 256 channels
    and 19 classes this is the DeepLabv3 of the FNA++ seed row: 2.57M params, 24.52B MAdds at
    1024x2048 (Table 2).
    """

    def __init__(self, dilations=(1, 6, 12, 18), **kwargs):
        super().__init__(dilations=dilations, **kwargs)
        self.aspp_modules = DepthwiseSeparableASPPModule(
            dilations=dilations, in_channels=self.in_channels, channels=self.channels, conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.bottleneck = ConvModule((len(dilations) + 1) * self.channels, self.channels, 1,
                                     conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
