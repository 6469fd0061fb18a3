"""Elastic backbones: sub-networks equal their exported derived networks, exactly (float64)."""
import pytest
import torch

from mmadapt.arch import ElasticSpace, SpecError, load_spec, resolve_subnet, spec_from_dict
from mmadapt.cost import count_model, spec_cost
from mmadapt.models.backbones import (ChannelModulation, ChannelScale, ElasticMobileNetV1, ElasticMobileNetV2,
                                      ElasticMobileNetV3, ElasticResNet)
from mmadapt.models.backbones.elastic import grow_elastic
from mmadapt.registry import MODELS
from mmadapt.remap import seed_template

TINY_MBV2 = dict(name='tiny_mbv2', family='mbv2', stem=dict(out_channels=8), stages=[
    dict(out_channels=8, stride=1, blocks=['k3e1']),
    dict(out_channels=12, stride=2, blocks=['k5e6', 'k5e6']),
    dict(out_channels=16, stride=2, blocks=['k5e6', 'k5e6', 'k5e6']),
    dict(out_channels=16, stride=1, blocks=['k5e4', 'k3e4']),
    dict(out_channels=24, stride=2, blocks=['k5e6', 'k5e6']),
    dict(out_channels=24, stride=1, blocks=['k5e6', 'k5e6']),
    dict(out_channels=32, stride=1, blocks=['k3e6']),
], head=dict(out_channels=48))
TINY_BASIC = dict(name='tiny_r', family='resnet', block='basic', stem=dict(out_channels=8, kernel=3), stages=[
    dict(out_channels=8, stride=1, blocks=['k5g1', 'k5g1']),
    dict(out_channels=16, stride=2, blocks=['k3g1', 'k3g1', 'k3g1']),
    dict(out_channels=24, stride=2, blocks=['k5g1', 'k5g1']),
    dict(out_channels=32, stride=2, blocks=['k3g1', 'k3g1']),
])
TINY_BOTTLENECK = dict(TINY_BASIC, name='tiny_b', block='bottleneck', stages=[
    dict(out_channels=16, stride=1, blocks=['k3g1', 'k3g1']),
    dict(out_channels=32, stride=2, blocks=['k5g1', 'k5g1']),
    dict(out_channels=32, stride=2, blocks=['k3g1', 'k3g1']),
    dict(out_channels=48, stride=2, blocks=['k3g1']),
])
# MobileNetV1 with channel-level bypasses (_b{T}): T < C makes a bottleneck, T >= C lets a layer vanish
TINY_MBV1 = dict(name='tiny_mbv1', family='mbv1', stem=dict(out_channels=8), stages=[
    dict(out_channels=16, stride=1, blocks=['k3_b8']),
    dict(out_channels=24, stride=2, blocks=['k3', 'k3_b24', 'k3_b12']),
    dict(out_channels=32, stride=2, blocks=['k5_b32', 'k5_b32']),
    dict(out_channels=32, stride=1, blocks=['k3_b64', 'k3_b64']),
    dict(out_channels=48, stride=2, blocks=['k3']),
])
# MobileNetV3-like: stage activations, squeeze-excitation, a bypassed (strided) first layer
TINY_MBV3 = dict(name='tiny_mbv3', family='mbv3', act='hswish', stem=dict(out_channels=8), stages=[
    dict(out_channels=8, stride=1, act='relu', blocks=['k3e1']),
    dict(out_channels=12, stride=2, act='relu', blocks=['k3e4_b8', 'k3e3']),
    dict(out_channels=16, stride=2, blocks=['k5e3_se', 'k5e3_se']),
    dict(out_channels=24, stride=2, blocks=['k3e6_se', 'k3e4_se']),
], head=dict(out_channels=48))
FAMILIES = [(ElasticMobileNetV2, TINY_MBV2, tuple(range(8))), (ElasticResNet, TINY_BASIC, (0, 1, 2, 3)),
            (ElasticResNet, TINY_BOTTLENECK, (1, 3)), (ElasticMobileNetV1, TINY_MBV1, (0, 2, 4)),
            (ElasticMobileNetV3, TINY_MBV3, (1, 3, 4))]


def randomise_norm(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.5, 0.5, generator=g)
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)


def build(cls, spec, out_indices, **kwargs):
    torch.manual_seed(0)
    net = cls(spec=spec, out_indices=out_indices, pad_outputs=False, **kwargs)
    net.init_weights()
    randomise_norm(net)
    return net.double().eval()


def exported(net, sub=None):
    spec, state = net.export_subnet(sub)
    derived = MODELS.build(dict(net.derived_config(spec), init_cfg=[]))
    derived.load_state_dict(state, strict=True)
    return derived.double().eval()


def space(spec, per='layer'):
    # ratio 0 removes residual bodies and bypassed convs (others take their smallest width)
    return ElasticSpace(spec, width_ratios=(0.0, 0.25, 0.5, 0.75, 1.0), per=per, depths=1, kernels=(3, 5),
                        divisor=2, elastic_stem=True, elastic_head=True)


@pytest.mark.parametrize('cls,spec,out_indices', FAMILIES)
@pytest.mark.parametrize('per', ['layer', 'stage'])
def test_random_subnets_equal_their_exported_derived_networks(cls, spec, out_indices, per):
    net = build(cls, spec, out_indices)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    sp = space(net.spec, per)
    subs = [sp.max(), sp.min()] + [sp.sample(g) for _ in range(4)]
    for sub in subs:
        net.set_subnet(sub)
        derived = exported(net)
        # remap's key / shape template of the spec (built from the spec alone) is the derived network's
        template = seed_template(net.subnet(), out_indices)
        assert {k: tuple(v.shape) for k, v in template.items()} == \
            {k: tuple(v.shape) for k, v in derived.state_dict().items()}
        with torch.no_grad():
            ys = net(x)
            zs = derived(x)
        assert len(ys) == len(zs) == len(out_indices)
        for y, z in zip(ys, zs):
            assert y.shape == z.shape
            assert torch.allclose(y, z, rtol=0, atol=1e-12), (sub.describe(), (y - z).abs().max())
    # the space's min really is smaller than its max, and random draws differ from both
    assert spec_cost(subs[1], (32, 32)).madds < spec_cost(subs[0], (32, 32)).madds
    assert len({s.describe() for s in subs}) >= 4


def test_max_subnet_is_the_max_network_and_outputs_pad_to_max_width():
    net = build(ElasticMobileNetV2, TINY_MBV2, (2, 7))
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    derived = MODELS.build(dict(type='mmadapt.DerivedMobileNetV2', spec=TINY_MBV2, out_indices=(2, 7), init_cfg=[]))
    derived.load_state_dict(net.state_dict(), strict=True)  # same keys and shapes as the derived max network
    derived.double().eval()
    with torch.no_grad():
        assert all(torch.equal(a, b) for a, b in zip(net(x), derived(x)))
    net.pad_outputs = True
    sub = space(net.spec).min()
    net.set_subnet(sub)
    with torch.no_grad():
        padded = net(x)
        plain = exported(net)(x)
    assert [o.shape[1] for o in padded] == list(net.out_channels)
    for p, q in zip(padded, plain):
        assert torch.equal(p[:, :q.shape[1]], q) and not p[:, q.shape[1]:].any()


def test_weights_are_shared_views_and_bn_statistics_update_leading_channels():
    net = build(ElasticMobileNetV2, TINY_MBV2, (6, )).train()
    sub = space(net.spec).min()
    net.set_subnet(sub)
    dw = net.stages[2][0].depthwise_conv
    mean_before = dw.bn.running_mean.clone()
    net(torch.randn(2, 3, 32, 32, dtype=torch.float64))[0].sum().backward()
    info = next(i for i in sub.layers() if (i.stage, i.layer) == (2, 0))
    hidden = info.hidden(info.candidates[0])
    assert hidden < 96 and info.candidates[0].kernel == 3
    grad = dw.conv.weight.grad
    assert grad[:hidden].abs().sum() > 0 and not grad[hidden:].any()  # the slice is the max weight
    assert not grad[:, :, 0].any() and grad[:hidden, :, 1:4, 1:4].abs().sum() > 0  # the centre 3x3 of 5x5
    assert not torch.equal(dw.bn.running_mean[:hidden], mean_before[:hidden])
    assert torch.equal(dw.bn.running_mean[hidden:], mean_before[hidden:])


def test_groupnorm_subnets_export_exactly():
    gn = dict(type='GN', num_groups=2)
    net = build(ElasticResNet, TINY_BASIC, (3, ), norm_cfg=gn)
    sub = space(net.spec).sample(torch.Generator().manual_seed(3))
    net.set_subnet(sub)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(net(x)[0], exported(net)(x)[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize('cls,spec,out_indices', FAMILIES)
def test_per_sample_subnets_equal_each_subnet_alone_with_gradients(cls, spec, out_indices):
    net = build(cls, spec, out_indices)
    sp = ElasticSpace(net.spec, width_ratios=(0.0, 0.25, 0.5, 1.0), depths=1, divisor=2, elastic_stem=True)
    g = torch.Generator().manual_seed(5)
    subs = [sp.sample(g) for _ in range(3)] + [sp.min()]
    x = torch.randn(len(subs), 3, 32, 32, dtype=torch.float64)
    net.set_sample_subnets(subs)
    batch = net(x)
    loss = sum((o * o).sum() for o in batch)
    loss.backward()
    batch_grads = {n: None if p.grad is None else p.grad.clone() for n, p in net.named_parameters()}
    net.clear_sample_subnets()
    net.zero_grad()
    for n, sub in enumerate(subs):
        net.set_subnet(sub)
        alone = net(x[n:n + 1])
        for b, a in zip(batch, alone):
            c = a.shape[1]
            assert torch.allclose(b[n:n + 1, :c], a, rtol=0, atol=1e-12)
            assert not b[n, c:].any()
        sum((o * o).sum() for o in alone).backward()
    used = 0
    for name, p in net.named_parameters():
        if batch_grads[name] is None or p.grad is None:  # a weight no sub-network reads
            assert batch_grads[name] is None or not batch_grads[name].any(), name
            continue
        assert torch.allclose(batch_grads[name], p.grad, rtol=0, atol=1e-10), name
        used += 1
    assert used > 10


def test_removed_residual_block_is_exactly_the_identity():
    outs = {}

    class Record(ChannelModulation):
        def block(self, name, y):
            outs[name] = y
            return y

    for cls, spec in ((ElasticMobileNetV2, TINY_MBV2), (ElasticResNet, TINY_BASIC)):
        net = build(cls, spec, (3, ))
        d = net.spec.to_dict()
        d['stages'][1]['blocks'][1] = 'skip'  # rewritten as the max block with hidden width 0
        d['stages'][2]['blocks'][2 if cls is ElasticMobileNetV2 else 1] = (
            'k5e6_h0' if cls is ElasticMobileNetV2 else 'k3g1_h0')
        sub = net.set_subnet(spec_from_dict(d))
        assert '_h0' in sub.to_dict()['stages'][1]['blocks'][1]
        net.add_modulation(Record())
        net(torch.rand(1, 3, 32, 32, dtype=torch.float64))
        assert torch.equal(outs['stages.1.1'], outs['stages.1.0'])
        last = 'stages.2.2' if cls is ElasticMobileNetV2 else 'stages.2.1'
        prev = 'stages.2.1' if cls is ElasticMobileNetV2 else 'stages.2.0'
        assert torch.equal(outs[last], outs[prev])
        outs.clear()


def test_channel_scale_multiplies_groups_and_passes_gradients():
    net = build(ElasticMobileNetV2, TINY_MBV2, (6, ))
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    base = net(x)[0]
    gate = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    net.add_modulation(ChannelScale({'stages.6.0.linear_conv': gate}))
    y = net(x)[0]
    # channels 16..31 of the last projection are gated off: only its residual-free output remains
    assert not y[:, 16:].any() and not torch.equal(y[:, :16], torch.zeros_like(y[:, :16]))
    assert torch.allclose(y[:, :16], base[:, :16])
    y.sum().backward()
    assert gate.grad is not None and gate.grad[1] != 0
    net.clear_modulations()
    assert torch.equal(net(x)[0], base)


def _modify(spec, s, j, token=None, **stage):
    d = load_spec(spec).to_dict()
    if token is not None:
        d['stages'][s]['blocks'][j] = token
    d['stages'][s].update(stage)
    return d


@pytest.mark.parametrize('change,message', [
    (lambda: _modify(TINY_MBV2, 2, 1, 'k5e6_h200'), 'stage 2 layer 1: hidden width 200 is wider than the max 96'),
    (lambda: _modify(TINY_MBV2, 3, 1, 'k5e4'), 'stage 3 layer 1: kernel 5 is larger than the max kernel 3'),
    (lambda: _modify(TINY_MBV2, 4, 0, 'k5e6_c40'), 'stage 4 layer 0: output width 40 is wider than the max 24'),
    (lambda: _modify(TINY_MBV2, 0, 0, 'k3e1_h6'), 'stage 0 layer 0: depthwise width 6 does not match its input 8'),
    (lambda: _modify(TINY_MBV2, 1, 0, 'k3e1'), 'stage 1 layer 0: \'k3e1\' has no expansion conv'),
    (lambda: _modify(TINY_MBV2, 6, 0, blocks=['k3e6', 'k3e6']), 'stage 6: 2 layers, the max stage has 1'),
    (lambda: _modify(TINY_MBV2, 6, 0, stride=2), 'stage 6: stride / dilation 2 / 1 differ'),
    (lambda: _modify(TINY_MBV2, 6, 0, blocks=[]), 'stage 6: blocks must be a non-empty list'),
    (lambda: dict(_modify(TINY_BASIC, 0, 0, 'k5g1_c6'), stem=dict(out_channels=8, kernel=3)),
     'stage 0 layer 0: needs a projection shortcut'),
])
def test_malformed_subnets_name_stage_and_layer(change, message):
    net = ElasticMobileNetV2(spec=TINY_MBV2) if 'mbv2' in str(change()) else ElasticResNet(spec=TINY_BASIC)
    before = net.subnet().describe()
    with pytest.raises(SpecError, match=message.replace('(', r'\(').replace(')', r'\)')):
        net.set_subnet(change())
    assert net.subnet().describe() == before  # nothing half-set


def test_sampling_is_reproducible_and_covers_the_space():
    sp = ElasticSpace(TINY_MBV2, width_ratios=(0.5, 1.0), depths=[[1], [1, 2], [2, 3], [1, 2], [2], [1, 2], [1]],
                      kernels=(3, 5), divisor=4)
    a = [sp.sample(torch.Generator().manual_seed(7)).describe() for _ in range(2)]
    assert a[0] == a[1]  # the same seed on every DDP rank draws the same sub-network
    g = torch.Generator().manual_seed(0)
    draws = [sp.sample(g) for _ in range(40)]
    depths = {d.stages[2].depth for d in draws}
    kernels = {d.stages[2].layers[0][0].kernel for d in draws}
    assert depths == {2, 3} and kernels == {3, 5}
    assert sp.max().stages[2].depth == 3 and sp.min().stages[2].depth == 2
    assert sp.min().layers()[3].hidden(sp.min().layers()[3].candidates[0]) == 48  # 0.5 x 96
    assert all(resolve_subnet(TINY_MBV2, d) is not None for d in draws)


@pytest.mark.parametrize('cls,spec,out_indices', FAMILIES)
def test_subnet_costs_from_the_spec_equal_the_hook_counter(cls, spec, out_indices):
    spec_ = load_spec(spec)
    net = build(cls, spec, (len(spec_.stages) - (spec_.head is None), ))
    g = torch.Generator().manual_seed(2)
    for sub in [space(net.spec).sample(g) for _ in range(3)]:
        net.set_subnet(sub)
        derived = exported(net)
        counted = count_model(derived, torch.zeros(1, 3, 40, 48, dtype=torch.float64))
        cost = spec_cost(net.subnet(), (40, 48))
        assert (cost.madds, cost.params) == (counted.madds, counted.params)


@pytest.mark.parametrize('cls,spec', [(ElasticMobileNetV2, TINY_MBV2), (ElasticResNet, TINY_BOTTLENECK)])
def test_grown_network_computes_the_old_function_when_identity_initialised(cls, spec):
    net = build(cls, spec, (3, ))
    old_max = net.spec
    d = old_max.to_dict()
    # one more channel group per layer and one more layer in stages 1 and 3, larger kernels in stage 2
    for s, st in enumerate(d['stages']):
        st['out_channels'] += 4
        st['blocks'] = [b.replace('k3', 'k5') if s == 2 else b for b in st['blocks']]
        if s in (1, 3):
            st['blocks'].append(st['blocks'][-1])
    d['stem']['out_channels'] += 4
    if d.get('head'):
        d['head']['out_channels'] += 8
    grown = grow_elastic(net, spec_from_dict(d), init='identity').double().eval()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        y_old = net(x)[0]
        y_new = grown(x)[0]
    assert y_new.shape[1] == y_old.shape[1] + 4
    assert torch.allclose(y_new[:, :y_old.shape[1]], y_old, rtol=0, atol=1e-10)
    assert y_new[:, y_old.shape[1]:].abs().sum() > 0  # new channels are alive, not zero
    # the old network is a sub-network of the grown one, with the same weights
    grown.set_subnet(old_max)
    assert grown.export_subnet()[1].keys() == net.state_dict().keys()
    random = grow_elastic(net, spec_from_dict(d), init='random').double().eval()
    with torch.no_grad():
        assert not torch.allclose(random(x)[0][:, :y_old.shape[1]], y_old, atol=1e-3)
    with pytest.raises(SpecError, match='wider than the max'):
        grow_elastic(grown, old_max)


def test_seed_loads_into_elastic_max_network():
    torchvision = pytest.importorskip('torchvision')
    from mmadapt.remap import load_seed
    tv = torchvision.models.mobilenet_v2()
    randomise_norm(tv)
    net = ElasticMobileNetV2(out_indices=(7, ), pad_outputs=False)
    state, report = load_seed(tv.state_dict(), 'mobilenet_v2')
    net.load_state_dict(state, strict=True)
    tv.eval()
    net.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net(x)[0], tv.features(x), atol=1e-5)


def test_channel_level_bypass_follows_the_rule_and_vanishes_into_the_identity():
    """NetAdaptV2 App. C: output channel j < M from the conv path, M <= j < min(C, T) input channel j."""
    from mmadapt.models.backbones import DerivedMobileNetV1
    d = load_spec(TINY_MBV1).to_dict()
    d['stages'][1]['blocks'] = ['k3', 'k3_c5_b24', 'k3_c30_b12']  # C=24: 5 conv + 19 bypass; then 30 conv
    d['stages'][3]['blocks'] = ['k3_c0_b64', 'k3_c7_b64']  # width 0, T >= C: the identity
    net = DerivedMobileNetV1(spec=spec_from_dict(d), out_indices=(1, 3), init_cfg=[]).double().eval()
    randomise_norm(net)
    seen = {}
    for j in (0, 1):
        net.stages[1][j].register_forward_hook(lambda m, i, o, j=j: seen.__setitem__((1, j), (i[0], o)))
    net.stages[3][0].register_forward_hook(lambda m, i, o: seen.__setitem__((3, 0), (i[0], o)))
    net(torch.randn(2, 3, 32, 32, dtype=torch.float64))
    x, y = seen[(1, 1)][0], seen[(1, 1)][1]
    assert y.shape[1] == 24 and torch.equal(y[:, 5:], x[:, 5:24])
    assert torch.equal(y[:, :5], net.stages[1][1].pointwise_conv(net.stages[1][1].depthwise_conv(x)))
    x0, y0 = seen[(3, 0)]
    assert torch.equal(y0, x0)  # removed through its bypass: exactly the identity
    assert net.stages[3][0].depthwise_conv is None  # and it computes nothing
    # strided bypass of a first layer: the input subsampled by the stride
    d = load_spec(TINY_MBV3).to_dict()
    d['stages'][1]['blocks'][0] = 'k3e4_h0_c0_b8'
    v3 = MODELS.build(dict(type='mmadapt.DerivedMobileNetV3', spec=d, out_indices=(1, ), init_cfg=[])).eval()
    got = {}
    v3.stages[1][0].register_forward_hook(lambda m, i, o: got.update(x=i[0], y=o))
    v3(torch.randn(1, 3, 32, 32))
    assert torch.equal(got['y'], got['x'][:, :8, ::2, ::2])


def test_bypass_costs_nothing_and_sub_networks_keep_their_limits():
    d = load_spec(TINY_MBV1).to_dict()
    full = spec_cost(spec_from_dict(d), (32, 32))
    d['stages'][3]['blocks'][1] = 'k3_c0_b64'
    removed = spec_cost(spec_from_dict(d), (32, 32))
    dw = 32 * 9 * 4 * 4
    pw = 32 * 32 * 4 * 4
    assert full.madds - removed.madds == dw + pw  # the removed layer's two convs, nothing for the bypass
    net = ElasticMobileNetV1(spec=TINY_MBV1)
    d = load_spec(TINY_MBV1).to_dict()
    d['stages'][2]['blocks'][1] = 'k5_c8_b16'
    with pytest.raises(SpecError, match='stage 2 layer 1: bypass limit 16 differs from the max block'):
        net.set_subnet(d)
    with pytest.raises(SpecError, match="'_b' .* is for layers without a residual shortcut"):
        spec_from_dict(_modify(TINY_MBV2, 2, 1, 'k5e6_b8'))
