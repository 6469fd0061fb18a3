"""Parameter remapping of single tensors (FNA++ Sec. 3.1 and the alternatives of Sec. 5.3, 5.4).

Pure functions on tensors; they know nothing of modules or checkpoints.

Width is described by a :class:`ChannelMap`: for every new channel, the seed channel it takes
(``-1``: none, the channel is zero) and, on input dimensions, a scale (Net2WiderNet divides the
weights that read a replicated channel by its number of copies).
"""
from dataclasses import dataclass
from typing import Optional

import torch

WIDTH_RULES = ('fna', 'bn', 'std', 'l1', 'net2net')
KERNEL_RULES = ('fna', 'dilate')
DEPTH_RULES = ('fna', 'net2net')


@dataclass
class ChannelMap:
    """Seed channel of every new channel along one dimension.

    Attributes:
        index: (n_new,) long tensor; ``index[j]`` is the seed channel of new channel j, -1 for none.
        scale: optional (n_new,) tensor applied where the dimension is an *input* dimension.
    """
    index: torch.Tensor
    scale: Optional[torch.Tensor] = None

    @property
    def size(self) -> int:
        return int(self.index.numel())

    def is_identity(self, n_seed: int) -> bool:
        return (self.scale is None and self.size == n_seed
                and torch.equal(self.index, torch.arange(n_seed, device=self.index.device)))


def leading_map(n_seed: int, n_new: int) -> ChannelMap:
    """FNA++ Eq. 2 / 3: the first ``n_new`` seed channels, or all seed channels then zeros."""
    index = torch.arange(n_new)
    index[index >= n_seed] = -1
    return ChannelMap(index)


def topk_sorted(reference: torch.Tensor, k: int) -> torch.Tensor:
    """Algorithm 1 of FNA++: indices of the ``k`` largest values of ``reference``, in index order.

    Ties are broken towards the lower index, so the result does not depend on the sort backend.
    """
    order = torch.sort(-reference.detach().double(), stable=True).indices
    return torch.sort(order[:k]).values


def reference_vector(rule: str, weight: Optional[torch.Tensor] = None,
                     bn_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Importance of each output channel for the width rules of FNA++ Sec. 5.4.

    ``'bn'``: ``|gamma|`` of the BN after the conv (Sec. 5.4.1); ``'std'`` / ``'l1'``: standard
    deviation / L1 norm of the conv weights of each output channel (Sec. 5.4.2).
    """
    if rule == 'bn':
        if bn_weight is None:
            raise ValueError("width rule 'bn' needs the BN weight after the conv")
        return bn_weight.detach().abs()
    if weight is None:
        raise ValueError(f'width rule {rule!r} needs the conv weight')
    flat = weight.detach().reshape(weight.shape[0], -1).double()
    if rule == 'std':
        return flat.std(dim=1, unbiased=False) if flat.shape[1] > 1 else flat.abs()[:, 0]
    if rule == 'l1':
        return flat.abs().sum(dim=1)
    raise ValueError(f'unknown width rule {rule!r}; allowed: {list(WIDTH_RULES)}')


def width_map(n_seed: int, n_new: int, rule: str = 'fna', reference: Optional[torch.Tensor] = None,
              generator: Optional[torch.Generator] = None) -> ChannelMap:
    """Channel map for a width change from ``n_seed`` to ``n_new`` channels.

    Shrinking: ``'fna'`` keeps the leading channels (Eq. 2); ``'bn'``, ``'std'``, ``'l1'`` keep the
    top ``n_new`` channels of ``reference`` (Algorithm 1). Growing: every rule but ``'net2net'``
    keeps all seed channels first and zero-fills the rest (Eq. 3); ``'net2net'`` (Net2WiderNet)
    fills new channel j with a copy of a uniformly drawn seed channel and sets the input scale of
    every copy of channel c to ``1 / count(c)``, which preserves the function. Net2Net has no
    shrinking case; it falls back to Eq. 2.
    """
    if rule not in WIDTH_RULES:
        raise ValueError(f'unknown width rule {rule!r}; allowed: {list(WIDTH_RULES)}')
    if n_new <= n_seed:
        if rule in ('fna', 'net2net') or n_new == n_seed:
            return leading_map(n_seed, n_new)
        if reference is None or reference.numel() != n_seed:
            raise ValueError(f'width rule {rule!r} needs a reference vector of {n_seed} values')
        return ChannelMap(topk_sorted(reference, n_new))
    if rule != 'net2net':
        return leading_map(n_seed, n_new)
    extra = torch.randint(0, n_seed, (n_new - n_seed, ), generator=generator)
    index = torch.cat([torch.arange(n_seed), extra])
    counts = torch.bincount(index, minlength=n_seed).to(torch.float32)
    return ChannelMap(index, scale=1.0 / counts[index])


def gather_channels(t: torch.Tensor, dim: int, cmap: ChannelMap, fill: float = 0.0,
                    as_input: bool = False) -> torch.Tensor:
    """Apply ``cmap`` along ``dim`` of ``t``: gather seed channels, ``fill`` where there is none."""
    index = cmap.index.to(t.device)
    safe = index.clamp(min=0)
    out = t.index_select(dim, safe).clone()
    shape = [1] * t.dim()
    shape[dim] = index.numel()
    missing = (index < 0).reshape(shape)
    if bool(missing.any()):
        out = torch.where(missing, torch.full_like(out, fill), out)
    if as_input and cmap.scale is not None:
        out = out * cmap.scale.to(out).reshape(shape)
    return out


def remap_kernel(weight: torch.Tensor, kernel: int, rule: str = 'fna') -> torch.Tensor:
    """Kernel-level remapping of a (out, in, k, k) weight to ``kernel`` x ``kernel``.

    ``'fna'``: a smaller kernel takes the centre of the seed kernel (Eq. 5); a larger one holds the
    seed kernel in its centre, zeros around (Eq. 6). ``'dilate'`` (Eq. 11): a larger kernel holds
    the seed taps spread evenly, at positions ``i * (kernel - 1) / (k - 1)``, zeros elsewhere; it
    needs ``(kernel - 1)`` divisible by ``(k - 1)`` and falls back to ``'fna'`` otherwise (and for
    a smaller kernel).
    """
    if rule not in KERNEL_RULES:
        raise ValueError(f'unknown kernel rule {rule!r}; allowed: {list(KERNEL_RULES)}')
    k = weight.shape[-1]
    if weight.shape[-2] != k:
        raise ValueError(f'square kernels only, got {tuple(weight.shape[-2:])}')
    if kernel == k:
        return weight.clone()
    if kernel < k:
        off = (k - kernel) // 2
        return weight[..., off:off + kernel, off:off + kernel].clone()
    out = weight.new_zeros(*weight.shape[:-2], kernel, kernel)
    if rule == 'dilate' and k > 1 and (kernel - 1) % (k - 1) == 0:
        step = (kernel - 1) // (k - 1)
        out[..., ::step, ::step] = weight
        return out
    off = (kernel - k) // 2
    out[..., off:off + k, off:off + k] = weight
    return out


def dense_from_grouped(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """(out, in / g, k, k) grouped weight -> (out, in, k, k) block-diagonal dense weight."""
    if groups == 1:
        return weight
    out_ch, in_per, kh, kw = weight.shape
    if out_ch % groups:
        raise ValueError(f'{out_ch} output channels are not divisible by {groups} groups')
    dense = weight.new_zeros(out_ch, in_per * groups, kh, kw)
    per = out_ch // groups
    for g in range(groups):
        dense[g * per:(g + 1) * per, g * in_per:(g + 1) * in_per] = weight[g * per:(g + 1) * per]
    return dense


def grouped_from_dense(weight: torch.Tensor, groups: int) -> torch.Tensor:
    """FNA++ Eq. 4: a plain conv weight (p, q, k, k) -> a grouped one (p, q / g, k, k).

    Output channel i (in group ``i // (p / g)``) keeps the seed weights of the input channels of
    its group: ``W_n[i, j] = W_s[i, idg * (q / g) + j]``.
    """
    if groups == 1:
        return weight.clone()
    p, q = weight.shape[:2]
    if p % groups or q % groups:
        raise ValueError(f'a ({p}, {q}) conv cannot be split into {groups} groups')
    s = q // groups
    idg = torch.arange(p) // (p // groups)
    cols = idg[:, None] * s + torch.arange(s)[None, :]  # (p, s)
    index = cols.reshape(p, s, 1, 1).expand(p, s, *weight.shape[2:]).to(weight.device)
    return torch.gather(weight, 1, index).clone()


def remap_conv(weight: torch.Tensor, seed_groups: int, shape, groups: int, out_map: ChannelMap,
               in_map: ChannelMap, kernel_rule: str = 'fna') -> torch.Tensor:
    """Remap a conv weight on width (both dimensions), kernel and groups.

    Args:
        weight: seed weight (p, q / seed_groups, k, k).
        seed_groups / groups: groups of the seed and the new conv; a depthwise conv has as many
            groups as channels on both sides and is remapped channel by channel.
        shape: shape of the new weight (r, s / groups, k', k').
        out_map / in_map: channel maps of the output and input dimensions.
    """
    r, in_per, kh, kw = shape
    if kh != kw:
        raise ValueError(f'square kernels only, got {kh}x{kw}')
    depthwise_seed = seed_groups == weight.shape[0] and weight.shape[1] == 1 and seed_groups > 1
    depthwise_new = groups == r and in_per == 1 and groups > 1
    if depthwise_seed and depthwise_new:
        w = gather_channels(weight, 0, out_map)
        return remap_kernel(w, kh, kernel_rule)
    dense = dense_from_grouped(weight, seed_groups)
    dense = gather_channels(dense, 0, out_map)
    dense = gather_channels(dense, 1, in_map, as_input=True)
    dense = remap_kernel(dense, kh, kernel_rule)
    out = grouped_from_dense(dense, groups)
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f'remapped conv has shape {tuple(out.shape)}, expected {tuple(shape)}')
    return out


def remap_bn(state: dict, cmap: ChannelMap) -> dict:
    """Remap the entries of one BN (weight, bias, running_mean, running_var, num_batches_tracked).

    New channels get weight 0, bias 0, mean 0 and variance 1 (never a zero variance), so that they
    output exactly 0 in eval mode.
    """
    out = {}
    for key, value in state.items():
        if key == 'num_batches_tracked':
            out[key] = value.clone()
        elif key == 'running_var':
            out[key] = gather_channels(value, 0, cmap, fill=1.0)
        else:
            out[key] = gather_channels(value, 0, cmap, fill=0.0)
    return out
