from .sep_aspp_head import SeparableASPPHead
from .ssd_head import SSDHead

__all__ = ['SeparableASPPHead', 'SSDHead']
