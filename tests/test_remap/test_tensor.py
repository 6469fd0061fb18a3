"""Remapping of single tensors: FNA++ Eq. 2-6, Algorithm 1 and the Sec. 5.3 / 5.4 alternatives."""
import pytest
import torch

from mmadapt.remap import (gather_channels, grouped_from_dense, reference_vector, remap_bn, remap_conv,
                           remap_kernel, topk_sorted, width_map)


def test_width_shrink_takes_leading_channels_and_growth_pads_zeros():
    w = torch.arange(4 * 6, dtype=torch.float32).reshape(4, 6, 1, 1)
    out_map, in_map = width_map(4, 3), width_map(6, 8)
    new = remap_conv(w, 1, (3, 8, 1, 1), 1, out_map, in_map)
    assert torch.equal(new[:, :6], w[:3])  # Eq. 2 on the output dimension
    assert torch.equal(new[:, 6:], torch.zeros(3, 2, 1, 1))  # Eq. 3 on the input dimension
    bn = dict(weight=torch.tensor([1., 2.]), bias=torch.tensor([3., 4.]), running_mean=torch.tensor([5., 6.]),
              running_var=torch.tensor([7., 8.]), num_batches_tracked=torch.tensor(9))
    grown = remap_bn(bn, width_map(2, 4))
    assert grown['weight'].tolist() == [1, 2, 0, 0] and grown['bias'].tolist() == [3, 4, 0, 0]
    assert grown['running_mean'].tolist() == [5, 6, 0, 0]
    assert grown['running_var'].tolist() == [7, 8, 1, 1]  # never a zero variance
    assert int(grown['num_batches_tracked']) == 9
    assert remap_bn(bn, width_map(2, 1))['running_var'].tolist() == [7]


def test_algorithm1_topk_in_index_order_with_ties():
    assert topk_sorted(torch.tensor([3., 5., 5., 1.]), 2).tolist() == [1, 2]
    assert topk_sorted(torch.tensor([2., 5., 2., 1.]), 2).tolist() == [0, 1]  # tie -> lower index
    assert topk_sorted(torch.tensor([1., 1., 1., 1.]), 3).tolist() == [0, 1, 2]
    gamma = torch.tensor([0.5, -3.0, 0.1, 2.0, -0.2])
    cmap = width_map(5, 2, 'bn', reference_vector('bn', bn_weight=gamma))
    assert cmap.index.tolist() == [1, 3]  # |gamma| = 0.5, 3, 0.1, 2, 0.2
    w = torch.zeros(4, 2, 1, 1)
    w[0] = torch.tensor([1., 1.]).reshape(2, 1, 1)  # std 0, L1 2
    w[1] = torch.tensor([0., 4.]).reshape(2, 1, 1)  # std 2, L1 4
    w[2] = torch.tensor([-3., 3.]).reshape(2, 1, 1)  # std 3, L1 6
    w[3] = torch.tensor([5., 5.]).reshape(2, 1, 1)  # std 0, L1 10
    assert width_map(4, 2, 'std', reference_vector('std', w)).index.tolist() == [1, 2]
    assert width_map(4, 2, 'l1', reference_vector('l1', w)).index.tolist() == [2, 3]
    # growth keeps every seed channel for all rules but Net2Net
    assert width_map(4, 6, 'l1', reference_vector('l1', w)).index.tolist() == [0, 1, 2, 3, -1, -1]
    with pytest.raises(ValueError, match="unknown width rule 'top'"):
        width_map(4, 2, 'top')


def test_net2wider_replicates_and_scales():
    gen = torch.Generator().manual_seed(0)
    cmap = width_map(3, 7, 'net2net', generator=gen)
    index = cmap.index.tolist()
    assert index[:3] == [0, 1, 2] and all(0 <= i < 3 for i in index[3:])
    counts = {c: index.count(c) for c in range(3)}
    assert cmap.scale.tolist() == pytest.approx([1 / counts[i] for i in index])
    # a wider hidden layer computes the same function: out = W2 relu(W1 x)
    w1, w2, x = torch.randn(3, 4, 1, 1), torch.randn(5, 3, 1, 1), torch.randn(4)
    w1n = remap_conv(w1, 1, (7, 4, 1, 1), 1, cmap, width_map(4, 4))
    w2n = remap_conv(w2, 1, (5, 7, 1, 1), 1, width_map(5, 5), cmap)
    f = lambda a, b: b[:, :, 0, 0] @ torch.relu(a[:, :, 0, 0] @ x)  # noqa: E731
    torch.testing.assert_close(f(w1n, w2n), f(w1, w2))
    # shrinking has no Net2Net rule: leading channels (Eq. 2)
    assert width_map(5, 2, 'net2net').index.tolist() == [0, 1]


def test_kernel_remapping():
    w = torch.arange(9, dtype=torch.float32).reshape(1, 1, 3, 3) + 1
    big = remap_kernel(w, 7)  # Eq. 6: seed in the centre, zeros around
    assert torch.equal(big[..., 2:5, 2:5], w) and float(big.abs().sum()) == float(w.sum())
    small = remap_kernel(big, 3)  # Eq. 5: the centre
    assert torch.equal(small, w)
    w5 = torch.arange(25, dtype=torch.float32).reshape(1, 1, 5, 5)
    assert torch.equal(remap_kernel(w5, 3), w5[..., 1:4, 1:4])
    dil = remap_kernel(w, 7, 'dilate')  # Eq. 11: taps at 0, 3, 6
    assert torch.equal(dil[..., ::3, ::3], w) and float(dil.abs().sum()) == float(w.sum())
    dil5 = remap_kernel(w, 5, 'dilate')  # taps at 0, 2, 4
    assert torch.equal(dil5[..., ::2, ::2], w)
    with pytest.raises(ValueError, match="unknown kernel rule 'bilinear'"):
        remap_kernel(w, 5, 'bilinear')


def test_grouped_conv_follows_eq4_index_by_index():
    p, q, g = 8, 12, 4
    w = (100 * torch.arange(p)[:, None] + torch.arange(q)[None, :]).float().reshape(p, q, 1, 1)
    new = grouped_from_dense(w, g)
    s = q // g
    assert new.shape == (p, s, 1, 1)
    for i in range(p):
        idg = i // (p // g)
        for j in range(s):
            assert new[i, j, 0, 0] == w[i, idg * s + j, 0, 0]
    # through remap_conv, with a kernel change: 3x3 plain -> 5x5 grouped
    w3 = torch.randn(8, 8, 3, 3)
    out = remap_conv(w3, 1, (8, 2, 5, 5), 4, width_map(8, 8), width_map(8, 8))
    assert torch.equal(out[..., 1:4, 1:4], grouped_from_dense(w3, 4))
    # a grouped seed into the same groups is unchanged
    assert torch.equal(remap_conv(out, 4, (8, 2, 5, 5), 4, width_map(8, 8), width_map(8, 8)), out)


def test_depthwise_is_remapped_channel_by_channel():
    w = torch.randn(6, 1, 3, 3)
    cmap = width_map(6, 8)
    out = remap_conv(w, 6, (8, 1, 5, 5), 8, cmap, cmap)
    assert torch.equal(out[:6, :, 1:4, 1:4], w) and float(out[6:].abs().sum()) == 0
    t = torch.arange(5.)
    assert gather_channels(t, 0, width_map(5, 3, 'bn', torch.tensor([0., 9., 1., 8., 2.]))).tolist() == [1., 3., 4.]
