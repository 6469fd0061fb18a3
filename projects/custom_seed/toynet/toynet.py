"""ToyNet: a small MobileNetV2-like classification backbone with names of its own, registered in
mmpretrain (to pre-train it) and taught to mmadapt (its spec and its checkpoint format)."""
import os.path as osp

import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.registry import MODELS

from mmadapt.arch import load_spec
from mmadapt.remap import register_seed_format

TOYNET_SPEC = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'specs', 'toynet.yaml')
# (expansion, out channels, blocks, stride) per stage, as the spec describes them
ARCH = [(1, 8, 1, 1), (6, 16, 2, 2), (6, 24, 2, 2), (6, 32, 3, 2), (6, 48, 2, 1), (6, 80, 2, 2), (6, 160, 1, 1)]


def conv_bn(cin, cout, k=1, stride=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class ToyBlock(nn.Module):

    def __init__(self, cin, cout, expansion, stride):
        super().__init__()
        hidden = cin * expansion
        self.expand = conv_bn(cin, hidden) if expansion != 1 else None
        self.dw = conv_bn(hidden, hidden, 3, stride, groups=hidden)
        self.project = conv_bn(hidden, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.dw(y))
        return x + y if self.residual else y


@MODELS.register_module()
class ToyNet(BaseModule):
    """The user's own backbone: ``conv_first``, ``blocks.N.{expand,dw,project}``, ``conv_last``."""

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.conv_first = conv_bn(3, 16, 3, 2)
        blocks, cin = [], 16
        for t, c, n, s in ARCH:
            for i in range(n):
                blocks.append(ToyBlock(cin, c, t, s if i == 0 else 1))
                cin = c
        self.blocks = nn.ModuleList(blocks)
        self.conv_last = conv_bn(cin, 640)

    def forward(self, x):
        x = self.conv_first(x)
        for block in self.blocks:
            x = block(x)
        return (self.conv_last(x), )


def _detect(state):
    for prefix in ('', 'backbone.'):
        if f'{prefix}conv_first.0.weight' in state and f'{prefix}blocks.0.dw.0.weight' in state:
            return prefix
    return None


def toynet_key(spec, key, prefix):
    """mmadapt backbone key -> ToyNet checkpoint key (the whole adapter is this one function)."""
    parts = key.split('.')
    which = {'conv': 0, 'bn': 1}
    if parts[0] in ('stem', 'head'):
        module = 'conv_first' if parts[0] == 'stem' else 'conv_last'
        return f"{prefix}{module}.{which[parts[1]]}.{'.'.join(parts[2:])}"
    s, j, unit, sub = int(parts[1]), int(parts[2]), parts[3], parts[4]
    index = sum(stage.depth for stage in load_spec(spec).stages[:s]) + j  # ToyNet numbers blocks globally
    name = {'expand_conv': 'expand', 'depthwise_conv': 'dw', 'linear_conv': 'project'}[unit]
    return f"{prefix}blocks.{index}.{name}.{which[sub]}.{'.'.join(parts[5:])}"


register_seed_format('toynet', _detect, toynet_key)
