from .nnconv5 import DepthL1Loss, NNConv5Head
from .sep_aspp_head import SeparableASPPHead
from .ssd_head import SSDHead

__all__ = ['SeparableASPPHead', 'SSDHead', 'NNConv5Head', 'DepthL1Loss']
