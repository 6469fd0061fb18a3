"""MAdds and parameter counts.

MAdds are defined as in the papers: the multiply-adds of convolution (including depthwise, grouped
and transposed convolutions) and linear layers, per image; biases, normalisation, activations,
pooling and element-wise additions are not counted. The two 1x1 convs of a squeeze-excitation are
counted (on their 1x1 input: ``2 * channels * squeeze_channels``), its pooling and scaling are not.
Parameters are all learnable parameters (convolution weights and biases, BN affine parameters; BN
running statistics are buffers, not parameters).

Two ways to count that must agree (and are tested against each other and against mmengine's
traced counter): analytically from a spec at an input size (:func:`spec_cost`, used for the lookup
tables of the search), and by running a model once with hooks (:func:`count_model`).
"""
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mmadapt.arch import ArchSpec, Block, LayerInfo, load_spec


# -- analytic counts ---------------------------------------------------------------------------------
def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length of a convolution / pooling along one spatial dimension."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv_madds(in_channels: int, out_channels: int, kernel: int, out_hw: Tuple[int, int],
               groups: int = 1) -> int:
    """Multiply-adds of a k x k convolution producing an ``out_hw`` map."""
    return out_hw[0] * out_hw[1] * out_channels * (in_channels // groups) * kernel * kernel


def conv_bn_params(in_channels: int, out_channels: int, kernel: int, groups: int = 1) -> int:
    """Weights of a bias-free convolution plus the affine parameters of its BN."""
    return out_channels * (in_channels // groups) * kernel * kernel + 2 * out_channels


def se_cost(channels: int, squeeze_channels: int) -> Tuple[int, int]:
    """MAdds and params of a squeeze-excitation: two 1x1 convs with bias on a 1x1 map."""
    return 2 * channels * squeeze_channels, 2 * channels * squeeze_channels + channels + squeeze_channels


def block_cost(block: Block, info: LayerInfo, spec: ArchSpec, in_hw: Tuple[int, int]
               ) -> Tuple[int, int, Tuple[int, int]]:
    """MAdds, params and output size of one candidate block of a resolved layer.

    Args:
        in_hw: (H, W) of the layer's input feature map.
    Returns:
        (madds, params, (H_out, W_out)).
    """
    s = info.stride
    out_hw = ((in_hw[0] - 1) // s + 1, (in_hw[1] - 1) // s + 1)  # 'same' padding of odd kernels
    if block.is_skip:
        return 0, 0, in_hw
    cin, k = info.in_channels, block.kernel
    cout = info.conv_out(block)  # the conv path's width (a channel-level bypass, a zero-padded add cost nothing)
    hidden = info.hidden(block, spec.block_type)
    madds = params = 0
    if block.kind == 'separable' and cout == 0:
        pass  # removed through its bypass: the depthwise conv is not run either
    elif block.kind == 'separable':
        madds += conv_madds(cin, cin, k, out_hw, groups=cin)
        params += conv_bn_params(cin, cin, k, groups=cin)
        madds += conv_madds(cin, cout, 1, out_hw)
        params += conv_bn_params(cin, cout, 1)
    elif hidden > 0 and block.kind == 'mbconv':
        if block.hidden is not None or block.expansion != 1:
            madds += conv_madds(cin, hidden, 1, in_hw)
            params += conv_bn_params(cin, hidden, 1)
        dw = info.depthwise(block, spec.block_type)  # '_d': the other hidden channels bypass it, for free
        madds += conv_madds(dw, dw, k, out_hw, groups=dw)
        params += conv_bn_params(dw, dw, k, groups=dw)
        se = spec.se_channels(info, block)
        if se:
            m, p = se_cost(hidden, se)
            madds += m
            params += p
        madds += conv_madds(hidden, cout, 1, out_hw)
        params += conv_bn_params(hidden, cout, 1)
    elif hidden > 0 and spec.block_type == 'basic':
        madds += conv_madds(cin, hidden, k, out_hw, groups=block.groups)
        params += conv_bn_params(cin, hidden, k, groups=block.groups)
        madds += conv_madds(hidden, cout, 3, out_hw)
        params += conv_bn_params(hidden, cout, 3)
    elif hidden > 0:
        madds += conv_madds(cin, hidden, 1, in_hw)
        params += conv_bn_params(cin, hidden, 1)
        madds += conv_madds(hidden, hidden, k, out_hw, groups=block.groups)
        params += conv_bn_params(hidden, hidden, k, groups=block.groups)
        madds += conv_madds(hidden, cout, 1, out_hw)
        params += conv_bn_params(hidden, cout, 1)
    if block.kind == 'resblock' and not info.has_shortcut():
        madds += conv_madds(cin, cout, 1, out_hw)
        params += conv_bn_params(cin, cout, 1)
    return madds, params, out_hw


@dataclass
class LayerCost:
    """Per-candidate cost of one layer at its real input size."""
    info: LayerInfo
    in_hw: Tuple[int, int]
    madds: List[int]
    params: List[int]

    @property
    def tokens(self) -> List[str]:
        return [b.token for b in self.info.candidates]


@dataclass
class SpecCost:
    """Cost of a spec at one input size: fixed parts and a lookup table per layer.

    ``layers`` holds every built layer; for a derived spec each has one entry. The searchable ones
    form the lookup table of Eq. 9 (:meth:`table`).
    """
    input_hw: Tuple[int, int]
    stem_madds: int = 0
    stem_params: int = 0
    head_madds: int = 0
    head_params: int = 0
    layers: List[LayerCost] = field(default_factory=list)

    @property
    def fixed_madds(self) -> int:
        """MAdds of everything that has a single candidate (stem, fixed layers, head)."""
        return self.stem_madds + self.head_madds + sum(lc.madds[0] for lc in self.layers
                                                       if not lc.info.searchable)

    @property
    def fixed_params(self) -> int:
        return self.stem_params + self.head_params + sum(lc.params[0] for lc in self.layers
                                                         if not lc.info.searchable)

    def table(self) -> List[LayerCost]:
        """The lookup table: searchable layers only, in order."""
        return [lc for lc in self.layers if lc.info.searchable]

    def madds_range(self) -> Tuple[int, int]:
        """MAdds of the cheapest and of the dearest path."""
        table = self.table()
        return (self.fixed_madds + sum(min(lc.madds) for lc in table),
                self.fixed_madds + sum(max(lc.madds) for lc in table))

    def path_madds(self, path: Sequence[int]) -> int:
        """MAdds of the derived network that takes candidate ``path[i]`` in searchable layer i."""
        table = self.table()
        if len(path) != len(table):
            raise ValueError(f'path has {len(path)} entries, the spec {len(table)} searchable layers')
        return self.fixed_madds + sum(lc.madds[c] for lc, c in zip(table, path))

    def path_params(self, path: Sequence[int]) -> int:
        table = self.table()
        if len(path) != len(table):
            raise ValueError(f'path has {len(path)} entries, the spec {len(table)} searchable layers')
        return self.fixed_params + sum(lc.params[c] for lc, c in zip(table, path))

    @property
    def madds(self) -> int:
        """MAdds of a derived spec (every layer has one candidate)."""
        if self.table():
            raise ValueError('the spec has searchable layers; use path_madds() or expected_madds()')
        return self.fixed_madds

    @property
    def params(self) -> int:
        if self.table():
            raise ValueError('the spec has searchable layers; use path_params()')
        return self.fixed_params


def spec_cost(spec, input_hw: Tuple[int, int], out_indices: Optional[Sequence[int]] = None
              ) -> SpecCost:
    """Count MAdds and params of every candidate of a spec at input size ``input_hw`` (H, W).

    Args:
        spec: spec, name, path or dict.
        input_hw: image size (H, W) fed to the backbone; each layer is costed at its own input
            size, so strides and dilation are accounted for.
        out_indices: as given to the backbone: stages after the last output are not built and not
            counted, and the head conv is counted only when its index is requested. Default: the
            whole network.
    """
    spec = load_spec(spec)
    n = len(spec.stages)
    last = n if out_indices is None else max(out_indices)
    h, w = input_hw
    stem = spec.stem
    k, s = stem['kernel'], stem['stride']
    hw = (conv_out_size(h, k, s, k // 2), conv_out_size(w, k, s, k // 2))
    cost = SpecCost(input_hw=(h, w))
    cost.stem_madds = conv_madds(spec.in_channels, stem['out_channels'], k, hw)
    cost.stem_params = conv_bn_params(spec.in_channels, stem['out_channels'], k)
    if stem.get('pool'):
        hw = (conv_out_size(hw[0], 3, 2, 1), conv_out_size(hw[1], 3, 2, 1))
    out_ch = stem['out_channels']
    for info in spec.layers():
        if info.stage > last:
            break
        madds, params, out_hw = [], [], hw
        for block in info.candidates:
            m, p, out_hw = block_cost(block, info, spec, hw)
            madds.append(m)
            params.append(p)
        cost.layers.append(LayerCost(info, hw, madds, params))
        hw, out_ch = out_hw, info.out_channels
    if spec.head is not None and last == n:
        cost.head_madds = conv_madds(out_ch, spec.head['out_channels'], 1, hw)
        cost.head_params = conv_bn_params(out_ch, spec.head['out_channels'], 1)
    return cost


@dataclass
class ClassifierCost:
    """Cost of a spec's backbone with its family's ImageNet-style classifier (see :func:`classifier_cost`)."""
    backbone: SpecCost
    num_classes: int
    in_features: int  # width entering the classifier (head conv or last stage)
    hidden: Optional[int]  # width of the classifier's hidden layer (MobileNetV3), else None
    classifier_madds: int
    classifier_params: int

    @property
    def madds(self) -> int:
        return self.backbone.madds + self.classifier_madds

    @property
    def params(self) -> int:
        return self.backbone.params + self.classifier_params

    def describe(self) -> str:
        """The classifier in words, e.g. ``global pool, FC 1280 -> 1000``."""
        if self.hidden is None:
            return f'global pool, FC {self.in_features} -> {self.num_classes}'
        return (f'global pool, 1x1 conv {self.in_features} -> {self.hidden} with bias and activation, '
                f'FC {self.hidden} -> {self.num_classes}')


def classifier_cost(spec, num_classes: int = 1000, input_hw: Tuple[int, int] = (224, 224)) -> ClassifierCost:
    """MAdds and params of a derived spec with its family's classifier, as the papers count them.

    The classifier is a global average pool and an FC layer (with bias) from the head conv (or the
    last stage) to ``num_classes``; where the spec names a hidden layer (``classifier: {hidden: n}``,
    MobileNetV3), a 1x1 conv with bias to ``n`` channels and its activation come before the FC.

    Args:
        spec: a derived spec, name, path or dict.
        num_classes: classes of the FC layer (1000 for the ImageNet figures of the papers).
        input_hw: image size (H, W).
    Raises:
        ValueError: the spec has searchable layers (count a path of it instead), or ``num_classes`` < 1.
    """
    spec = load_spec(spec)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f'num_classes must be a positive integer, got {num_classes!r}')
    if not spec.is_derived:
        raise ValueError(f'spec {spec.name!r} has searchable layers; count a derived spec '
                         '(mmadapt.arch.path_spec / derive_spec)')
    backbone = spec_cost(spec, input_hw)
    width = spec.head['out_channels'] if spec.head is not None else spec.stage_out_channels()[-1]
    hidden = (spec.classifier or {}).get('hidden')
    madds = params = 0
    fc_in = width
    if hidden is not None:
        madds += width * hidden
        params += width * hidden + hidden
        fc_in = hidden
    madds += fc_in * num_classes
    params += fc_in * num_classes + num_classes
    return ClassifierCost(backbone, num_classes, width, hidden, madds, params)


def expected_madds(cost: SpecCost, probs: Sequence[torch.Tensor]) -> torch.Tensor:
    """Differentiable expected MAdds of a super-net (FNA++ Eq. 9).

    ``cost^(l) = sum_o p_o^(l) cost_o^(l)`` for each searchable layer, plus the fixed layers.

    Args:
        cost: the spec's cost at the task's input size.
        probs: one probability vector per searchable layer, e.g. ``softmax(alpha_l)``.
    Returns:
        A scalar tensor (MAdds), differentiable with respect to ``probs``.
    """
    table = cost.table()
    if len(probs) != len(table):
        raise ValueError(f'got {len(probs)} probability vectors for {len(table)} searchable layers')
    total = None
    for lc, p in zip(table, probs):
        if p.numel() != len(lc.madds):
            raise ValueError(f'stage {lc.info.stage} layer {lc.info.layer}: {p.numel()} probabilities for '
                             f'{len(lc.madds)} candidates')
        term = (p * torch.tensor(lc.madds, dtype=p.dtype, device=p.device)).sum()
        total = term if total is None else total + term
    fixed = float(cost.fixed_madds)
    if total is None:
        return torch.tensor(fixed)
    return total + fixed


# -- counting by running a model ------------------------------------------------------------------
@dataclass
class ModelCost:
    """Result of :func:`count_model`: totals and a per-module breakdown (leaf modules that ran)."""
    madds: int
    params: int
    modules: 'OrderedDict[str, Tuple[int, int]]'  # name -> (madds, params)

    def grouped(self, depth: int) -> 'OrderedDict[str, Tuple[int, int]]':
        """Breakdown summed over module names cut to ``depth`` components (``backbone.stages``)."""
        out: 'OrderedDict[str, List[int]]' = OrderedDict()
        for name, (m, p) in self.modules.items():
            key = '.'.join(name.split('.')[:depth]) or '(root)'
            acc = out.setdefault(key, [0, 0])
            acc[0] += m
            acc[1] += p
        return OrderedDict((k, (v[0], v[1])) for k, v in out.items())


TRANSPOSED_CONVENTIONS = ('input', 'output')


def _module_madds(module: nn.Module, inputs, output, transposed: str = 'input') -> int:
    """MAdds per image of one conv or linear call.

    ``transposed='input'`` counts the multiply-adds a transposed conv performs (every input pixel
    times a k x k x out / groups patch); ``'output'`` counts it as a convolution at its output
    resolution, as some papers do (stride^2 times more; the FNA++ pose numbers use it).
    """
    if isinstance(module, nn.Linear):
        per_image = output.numel() // output.shape[0] if output.dim() > 1 else output.numel()
        return per_image * module.in_features
    x = inputs[0]
    k = 1
    for v in module.kernel_size:
        k *= v
    if isinstance(module, nn.ConvTranspose2d) and transposed == 'input':
        # every input pixel is multiplied into a k x k x (out / groups) patch
        return (x.numel() // x.shape[0]) * (module.out_channels // module.groups) * k
    return (output.numel() // output.shape[0]) * (module.in_channels // module.groups) * k


COUNTED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)


@torch.no_grad()
def count_model(model: nn.Module, inputs, forward: Optional[Callable] = None,
                transposed: str = 'input') -> ModelCost:
    """Run ``model`` once and count the MAdds of its conv / linear layers, per image.

    Args:
        model: any module; it is put in eval mode for the count and restored afterwards.
        inputs: the input batch (its first dimension is the batch; MAdds are per image).
        forward: how to call the model, default ``model(inputs)``; for OpenMMLab task models use
            ``lambda x: model(x, mode='tensor')``.
        transposed: how transposed convolutions count, see :func:`_module_madds`.
    Returns:
        :class:`ModelCost`; ``params`` counts every parameter of the model.
    """
    if transposed not in TRANSPOSED_CONVENTIONS:
        raise ValueError(f'transposed must be one of {TRANSPOSED_CONVENTIONS}, got {transposed!r}')
    per_module: 'OrderedDict[str, List[int]]' = OrderedDict()
    handles = []
    names = {m: n for n, m in model.named_modules()}

    def hook(module, inp, out):
        per_module.setdefault(names[module], [0, 0])[0] += _module_madds(module, inp, out, transposed)

    for m in model.modules():
        if isinstance(m, COUNTED):
            handles.append(m.register_forward_hook(hook))
    was_training = model.training
    model.eval()
    try:
        (forward or model)(inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    # parameters of every leaf module (used or not), so that the breakdown sums to the total
    for name, m in model.named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if own:
            per_module.setdefault(name, [0, 0])[1] += own
    modules = OrderedDict((k, (v[0], v[1])) for k, v in per_module.items())
    return ModelCost(madds=sum(v[0] for v in modules.values()),
                     params=sum(p.numel() for p in model.parameters()), modules=modules)


def format_count(value: float) -> str:
    """``300.8M``, ``4.11B``, ``950.0K``: MAdds and params as the papers print them."""
    if value >= 1e9:
        return f'{value / 1e9:.2f}B'
    if value >= 1e6:
        return f'{value / 1e6:.2f}M' if value < 1e8 else f'{value / 1e6:.1f}M'
    if value >= 1e3:
        return f'{value / 1e3:.1f}K'
    return f'{value:.0f}'
