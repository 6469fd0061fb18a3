"""The convolutions of a spec backbone, by name: what remapping walks and what a seed template holds.

A block of a spec backbone is a few convolutions with fixed child names (the modules of
``mmadapt.models.backbones.ops``; this module only describes them, it builds nothing):

* ``mbconv`` (mbv2, mbv3): ``expand_conv`` (absent at expansion 1 without ``_h``), ``depthwise_conv``,
  the squeeze-excitation ``se.conv_reduce`` / ``se.conv_expand`` (mbv3 ``_se`` tokens), ``linear_conv``;
* ``separable`` (mbv1): ``depthwise_conv`` (as wide as the block's input) and ``pointwise_conv``;
* ``resblock`` (resnet): ``conv1``, ``conv2`` (, ``conv3``), and ``downsample`` where the layer has no
  parameter-free shortcut (:meth:`~mmadapt.arch.LayerInfo.has_shortcut`: under ``shortcut: pad`` no
  layer has one, under ``pad_proj`` the first layer of a stride-2 stage).

A bypassed body (``_h0``) and ``skip`` have none. Each conv writes one of the block's widths and
reads one (:meth:`BlockDesc.widths`): ``'in'`` (the layer's input), ``'out'`` (its conv path's
output, :meth:`~mmadapt.arch.LayerInfo.conv_out`: the layer's output width, except beside a
channel-level bypass or a zero-padded shortcut, where the output may be wider),
``'hidden'`` (the block's inner width), ``'dw'`` (the leading hidden channels an MBConv's depthwise conv
computes, ``_d``; the hidden width without it) or ``'se'`` (the squeeze width). Every conv is an mmcv
``ConvModule`` (``{name}.conv.weight`` without bias, then a BN ``{name}.bn.*``), except the
squeeze-excitation's two, plain ``nn.Conv2d`` with bias and no norm (``bare``). The stem
(``stem.*``) and the head conv (``head.*``) are ``ConvModule`` too.
"""
from dataclasses import dataclass
from typing import Dict, NamedTuple, Optional, Sequence

import torch

from mmadapt.arch import ArchSpec, Block, LayerInfo, load_spec

WIDTHS = ('in', 'out', 'hidden', 'dw', 'se')


class BlockConv(NamedTuple):
    """One convolution of a block.

    Attributes:
        out / inp: the widths (:data:`WIDTHS`) of its output and input channels.
        groups: its number of groups (a depthwise conv has as many as channels).
        kernel: its kernel size.
        bare: a plain ``nn.Conv2d`` with bias and no norm (the squeeze-excitation's convs).
    """
    out: str
    inp: str
    groups: int
    kernel: int
    bare: bool = False


@dataclass
class BlockDesc:
    """A block of a spec in its resolved layer."""
    spec: ArchSpec
    info: LayerInfo
    block: Block

    @property
    def hidden(self) -> int:
        return self.info.hidden(self.block, self.spec.block_type)

    @property
    def depthwise(self) -> int:
        """Channels the depthwise conv of an MBConv computes (``_d``, else the hidden width)."""
        return self.info.depthwise(self.block, self.spec.block_type)

    @property
    def has_expand(self) -> bool:
        return self.block.hidden is not None or self.block.expansion != 1

    @property
    def se(self) -> int:
        """Squeeze width of the block's squeeze-excitation (0 without one)."""
        return self.spec.se_channels(self.info, self.block)

    def widths(self) -> Dict[str, int]:
        """Channel count of each width name of :data:`WIDTHS`."""
        # 'out' is what the convs write: with a channel-level bypass, the conv path's width M
        return {'in': self.info.in_channels, 'out': self.info.conv_out(self.block), 'hidden': self.hidden,
                'dw': self.depthwise, 'se': self.se}


def block_convs(desc: BlockDesc) -> Dict[str, BlockConv]:
    """Child name -> :class:`BlockConv` for the convs of a block, in forward order."""
    b, hidden = desc.block, desc.hidden
    convs: Dict[str, BlockConv] = {}
    if b.is_skip or hidden == 0 or desc.info.conv_out(b) == 0:
        pass  # no body (a removed residual body, or a conv path of width 0 beside a channel-level bypass)
    elif b.kind == 'mbconv':
        if desc.has_expand:
            convs['expand_conv'] = BlockConv('hidden', 'in', 1, 1)
        convs['depthwise_conv'] = BlockConv('dw', 'dw', desc.depthwise, b.kernel)
        if desc.se:
            convs['se.conv_reduce'] = BlockConv('se', 'hidden', 1, 1, bare=True)
            convs['se.conv_expand'] = BlockConv('hidden', 'se', 1, 1, bare=True)
        convs['linear_conv'] = BlockConv('out', 'hidden', 1, 1)
    elif b.kind == 'separable':
        # the depthwise conv's channels are the input's: they follow the input's channel map
        convs['depthwise_conv'] = BlockConv('in', 'in', desc.info.in_channels, b.kernel)
        convs['pointwise_conv'] = BlockConv('out', 'in', 1, 1)
    elif desc.spec.block_type == 'basic':
        convs['conv1'] = BlockConv('hidden', 'in', b.groups, b.kernel)
        convs['conv2'] = BlockConv('out', 'hidden', 1, 3)
    else:
        convs['conv1'] = BlockConv('hidden', 'in', 1, 1)
        convs['conv2'] = BlockConv('hidden', 'hidden', b.groups, b.kernel)
        convs['conv3'] = BlockConv('out', 'hidden', 1, 1)
    if b.kind == 'resblock' and not desc.info.has_shortcut():
        convs['downsample'] = BlockConv('out', 'in', 1, 1)
    return convs


def _conv_entries(out: Dict[str, torch.Tensor], name: str, c_out: int, c_in: int, groups: int, kernel: int,
                  bare: bool = False) -> None:
    """The state-dict entries of one conv unit named ``name``, as meta tensors."""
    weight = (c_out, c_in // groups, kernel, kernel)
    if bare:
        out[f'{name}.weight'] = torch.empty(weight, device='meta')
        out[f'{name}.bias'] = torch.empty(c_out, device='meta')
        return
    out[f'{name}.conv.weight'] = torch.empty(weight, device='meta')
    for key in ('weight', 'bias', 'running_mean', 'running_var'):
        out[f'{name}.bn.{key}'] = torch.empty(c_out, device='meta')
    out[f'{name}.bn.num_batches_tracked'] = torch.empty((), dtype=torch.long, device='meta')


def seed_template(spec, out_indices: Optional[Sequence[int]] = None) -> Dict[str, torch.Tensor]:
    """Keys and shapes of the state dict of the derived backbone of ``spec`` (with BN norm layers).

    The tensors live on the ``meta`` device: they hold shapes and dtypes, no values (a seed
    adapter compares shapes only). Nothing is built.

    Args:
        spec: a derived spec (name, file, dict or :class:`~mmadapt.arch.ArchSpec`).
        out_indices: as given to the backbone; stages after the last output, and the head conv
            unless it is an output, are left out. Default: the whole network, head conv included.
    Returns:
        ``key -> tensor``, in the order of the backbone's ``state_dict()``.
    """
    spec = load_spec(spec)
    if not spec.is_derived:
        raise ValueError(f'seed_template: spec {spec.name!r} has searchable layers; a seed template is the '
                         'state dict of a derived backbone (derive a spec first)')
    num_stages = len(spec.stages)
    max_index = num_stages if spec.head is not None else num_stages - 1
    if out_indices is None:
        out_indices = (max_index, )
    if not out_indices or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i <= max_index
                              for i in out_indices):
        raise ValueError(f'seed_template: out_indices {tuple(out_indices)} not allowed for spec {spec.name!r}; '
                         f'allowed: integers 0..{max_index}')
    last = max(out_indices)
    out: Dict[str, torch.Tensor] = {}
    _conv_entries(out, 'stem', spec.stem['out_channels'], spec.in_channels, 1, spec.stem['kernel'])
    for info in spec.layers():
        if info.stage > last:
            break
        desc = BlockDesc(spec, info, info.candidates[0])
        widths = desc.widths()
        for name, unit in block_convs(desc).items():
            _conv_entries(out, f'stages.{info.stage}.{info.layer}.{name}', widths[unit.out], widths[unit.inp],
                          unit.groups, unit.kernel, unit.bare)
    if last == num_stages:
        _conv_entries(out, 'head', spec.head['out_channels'], spec.stage_out_channels()[-1], 1, 1)
    return out


__all__ = ['WIDTHS', 'BlockDesc', 'BlockConv', 'block_convs', 'seed_template']
