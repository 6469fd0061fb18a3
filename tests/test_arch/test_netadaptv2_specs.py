"""NetAdaptV2's discovered networks (Tables 8, 9) and search spaces (App. A.1) as mbv3 specs: their
MAdds, the depthwise width ``_d`` and the zero-padded residual (``shortcut: pad``) of mbv3 specs."""
import pytest
import torch
import torch.nn as nn

from mmadapt.arch import ElasticSpace, SpecError, load_spec, resolve_subnet, spec_from_dict
from mmadapt.cost import classifier_cost, count_model, spec_cost
from mmadapt.cost.latency import spec_units
from mmadapt.models import DerivedMobileNetV3
from mmadapt.models.backbones import ElasticMobileNetV3
from mmadapt.registry import MODELS

from .test_spec_families import assert_spec_error

SPECS = ('netadaptv2_table8', 'netadaptv2_table9', 'netadaptv2_space_latency', 'netadaptv2_space_madds')
# conv + FC MAdds with the MobileNetV3 classifier at 224x224: the notes' count (1.6), the paper's figure
NOTES_MADDS = {'netadaptv2_table8': 223.1e6, 'netadaptv2_table9': 311.3e6, 'mobilenet_v3_large': 216.6e6}
PAPER_MADDS = {'netadaptv2_table8': 225e6, 'netadaptv2_table9': 314e6}



def _exported(net):
    """The derived network of ``net``'s active sub-network with its exported weights (float64, eval),
    its spec and its state dict."""
    spec, state = net.export_subnet()
    derived = MODELS.build(dict(net.derived_config(spec), init_cfg=[]))
    derived.load_state_dict(state, strict=True)
    return derived.double().eval(), spec, state

def _io(spec):
    """(input width, conv path width, output width, has residual) of every layer."""
    return [(i.in_channels, i.conv_out(i.candidates[0]), i.out_channels, i.has_shortcut()) for i in spec.layers()]


@pytest.mark.parametrize('name', sorted(NOTES_MADDS))
def test_madds_of_the_discovered_networks(name):
    madds = classifier_cost(name, 1000, (224, 224)).madds
    # the notes give one decimal in millions: within half a unit of it (their rounding)
    assert abs(madds - NOTES_MADDS[name]) <= 0.05e6, madds
    if name in PAPER_MADDS:
        # the paper also counts the SE scaling, pools and residual adds (notes 1.6: ~1% more), never fewer
        paper = PAPER_MADDS[name]
        assert paper * 0.99 <= madds < paper, madds


def test_exact_counts_and_table_rows():
    assert classifier_cost('netadaptv2_table8').madds == 223_056_000
    assert classifier_cost('netadaptv2_table9').madds == 311_295_744
    t8 = load_spec('netadaptv2_table8')
    infos = t8.layers()
    rows = [(i.hidden(i.candidates[0]), i.depthwise(i.candidates[0]), i.conv_out(i.candidates[0]),
             t8.se_channels(i, i.candidates[0])) for i in infos]
    # Table 8, blocks 2..18: (Exp, DW, PW, SE); block 2 reads 'Exp 8' as DW 8 of its 16 input channels
    assert rows == [(16, 8, 16, 0), (48, 48, 20, 16), (48, 48, 32, 0), (80, 80, 32, 32), (112, 80, 40, 32),
                    (64, 32, 16, 32), (96, 96, 8, 32), (192, 192, 128, 64), (224, 192, 128, 0), (128, 32, 48, 64),
                    (0, 0, 0, 0), (512, 256, 80, 256), (256, 256, 112, 256), (512, 512, 64, 256),
                    (640, 640, 224, 256), (640, 384, 224, 256), (896, 512, 224, 256)]
    assert [i.candidates[0].kernel for i in infos if i.hidden(i.candidates[0])] == \
        [3, 5, 3, 7, 3, 3, 3, 5, 5, 3, 3, 3, 5, 7, 7, 5]
    # the residual's output is max(input, PW): the narrow projections are zero-padded
    assert [i.out_channels for i in infos] == [16, 20, 32, 32, 40, 40, 40, 128, 128, 128, 128, 128, 128, 128,
                                               224, 224, 224]
    # the other reading of block 2 (an expansion conv to 8) costs the same MAdds
    d = t8.to_dict()
    d['stages'][0]['blocks'] = ['k3e1_h8_c16']
    assert classifier_cost(spec_from_dict(d)).madds == 223_056_000
    t9 = load_spec('netadaptv2_table9')
    removed = [(i.stage, i.layer) for i in t9.layers() if i.hidden(i.candidates[0]) == 0]
    assert removed == [(2, 2), (2, 3), (3, 3), (4, 2)]  # Table 9 blocks 7, 8, 12, 15
    assert (t9.head['out_channels'], t9.classifier['hidden']) == (1152, 2048)


def test_search_spaces_hold_the_discovered_networks():
    for space, table, points in (('netadaptv2_space_latency', 'netadaptv2_table8', 9),
                                 ('netadaptv2_space_madds', 'netadaptv2_table9', 11)):
        sub = resolve_subnet(space, table)  # every width, kernel, SE and T fits the max network
        assert sub.to_dict() == load_spec(table).to_dict()
        # every width of the table is on the space's grid of `points` uniform widths (App. A.1)
        grid = lambda w, full: (w * (points - 1)) % full == 0  # noqa: E731
        max_layers = {(i.stage, i.layer): i for i in load_spec(space).layers()}
        for info in sub.layers():
            b, mi = info.candidates[0], max_layers[(info.stage, info.layer)]
            mb = mi.candidates[0]
            for w, full in ((info.hidden(b), mi.hidden(mb)), (info.depthwise(b), mi.hidden(mb)),
                            (info.conv_out(b), mi.conv_out(mb))):
                assert grid(w, full), (table, info.stage, info.layer, w, full)
    lat, mac = load_spec('netadaptv2_space_latency'), load_spec('netadaptv2_space_madds')
    assert [s.depth for s in lat.stages] == [1, 2, 4, 4, 3, 3] and [s.depth for s in mac.stages] == [1, 2, 4, 4, 3, 4]
    assert lat.stage_out_channels() == [16, 32, 64, 128, 128, 256]
    assert mac.stage_out_channels() == [24, 40, 80, 160, 160, 320]
    assert [i.candidates[0].bypass for i in lat.layers() if i.stride == 2] == [16, 32, 64, 128]
    assert all(i.has_shortcut() == (i.stride == 1) for i in lat.layers() + mac.layers())


@pytest.mark.parametrize('name', SPECS)
def test_derived_networks_build_and_count_as_their_specs(name):
    net = DerivedMobileNetV3(spec=name, init_cfg=[]).eval()
    counted = count_model(net, torch.zeros(1, 3, 96, 96))  # any size; odd ones are tested for all specs
    cost = spec_cost(name, (96, 96))
    assert (counted.madds, counted.params) == (cost.madds, cost.params)
    with torch.no_grad():
        assert net(torch.zeros(1, 3, 32, 32))[0].shape == (1, load_spec(name).head['out_channels'], 1, 1)


# -- the depthwise width '_d' ------------------------------------------------------------------------
TINY_DW = dict(name='tiny_dw', family='mbv3', act='relu', stem=dict(out_channels=8),
               stages=[dict(out_channels=16, stride=2, blocks=['k3e4_se_h32_d8_c16'])])


def test_depthwise_width_by_hand():
    spec = spec_from_dict(TINY_DW)
    assert spec.stages[0].layers[0][0].token == 'k3e4_se_h32_d8_c16'
    cost = spec_cost(spec, (16, 16))
    stem = 3 * 8 * 9 * 8 * 8  # 16x16 -> 8x8
    expand, depthwise, se, project = 8 * 32 * 8 * 8, 8 * 9 * 4 * 4, 2 * 32 * 8, 32 * 16 * 4 * 4  # 8 of 32 channels
    assert cost.madds == stem + expand + depthwise + se + project == 40064
    assert cost.params == (3 * 8 * 9 + 16) + (8 * 32 + 64) + (8 * 9 + 16) + (2 * 32 * 8 + 32 + 8) + (32 * 16 + 32)
    net = DerivedMobileNetV3(spec=spec, init_cfg=[]).eval()
    assert (count_model(net, torch.zeros(1, 3, 16, 16)).madds, sum(p.numel() for p in net.parameters())) == \
        (cost.madds, cost.params)
    block = net.stages[0][0]
    assert block.depthwise_conv.conv.groups == block.depthwise_conv.conv.in_channels == 8
    # channels 8..31 pass the depthwise conv unchanged, subsampled by its stride; the SE reads all 32
    seen = {}
    block.expand_conv.register_forward_hook(lambda m, i, o: seen.update(e=o))
    block.se.register_forward_hook(lambda m, i, o: seen.update(s=i[0]))
    with torch.no_grad():
        net(torch.randn(2, 3, 16, 16))
        assert seen['s'].shape == (2, 32, 4, 4)
        assert torch.equal(seen['s'][:, 8:], seen['e'][:, 8:, ::2, ::2])
        assert torch.equal(seen['s'][:, :8], block.depthwise_conv(seen['e'][:, :8]))
    units = [u for u in spec_units(spec, (16, 16)).units() if u.in_h == 8 or u.op != 'conv']
    assert [(u.op, u.c_in, u.c_out, u.groups) for u in units] == [
        ('conv', 8, 32, 1), ('conv', 8, 8, 8), ('pad', 8, 32, 1), ('se_hsigmoid', 32, 8, 1)]


@pytest.mark.parametrize('token,expected', [
    ('k3e4_h32_d40', ["stage 0 layer 0", "'k3e4_h32_d40'", "depthwise width '_d40' is wider than the block's "
                      'hidden width 32', '0 < d <= hidden']),
    ('k3e4_d40', ["stage 0 layer 0", "'k3e4_d40'", 'hidden width 32']),  # hidden from the expansion: 8 x 4
    ('k3e4_h32_d0', ["stage 0 layer 0", "depthwise width '_d' must be positive", "'_h0'"]),
    ('k3e4_h0_d8', ["stage 0 layer 0", "'_d8' is wider than the block's hidden width 0"]),
    ('k3e4_d8_h32', ["stage 0 layer 0", "unknown block token 'k3e4_d8_h32'", "'_d{depthwise}' after '_h'"]),
    ('k3e4_se0_h32', ["stage 0 layer 0", "squeeze width '_se{n}' must be positive"]),
])
def test_malformed_depthwise_widths_name_the_problem(token, expected):
    d = dict(TINY_DW, stages=[dict(out_channels=16, stride=2, blocks=[token])])
    with pytest.raises(SpecError) as info:
        spec_from_dict(d)
    assert "spec 'tiny_dw'" in str(info.value)
    for part in expected:
        assert part in str(info.value), str(info.value)


# -- the zero-padded residual of mbv3 specs -----------------------------------------------------------
TINY_PAD = dict(name='tiny_pad', family='mbv3', act='relu', shortcut='pad', stem=dict(out_channels=4), stages=[
    dict(out_channels=6, stride=1, blocks=['k3e2_h8_c6', 'k3e2_h8_c2', 'k3e2_h0']),
    dict(out_channels=4, stride=2, blocks=['k3e2_h8_c4'])])


def test_zero_padded_residual_by_hand():
    spec = spec_from_dict(TINY_PAD)
    assert spec.describe().startswith('shortcut pad | stem c4 s2 | c6 s1 d1: k3e2_h8_c6 k3e2_h8_c2 k3e2_h0')
    # a stride-1 layer always has its residual (the first one too), output max(input, conv path)
    assert _io(spec) == [(4, 6, 6, True), (6, 2, 6, True), (6, 0, 6, True), (6, 4, 4, False)]
    # under MobileNetV3's rule the first layer would have none and the second would cut to 2
    assert _io(spec_from_dict(dict(TINY_PAD, shortcut='conv'))) == \
        [(4, 6, 6, False), (6, 2, 2, True), (2, 6, 6, True), (6, 4, 4, False)]
    stem = 3 * 4 * 9 * 8 * 8
    blocks = [4 * 8 * 64 + 8 * 9 * 64 + 8 * 6 * 64, 6 * 8 * 64 + 8 * 9 * 64 + 8 * 2 * 64, 0,
              6 * 8 * 64 + 8 * 9 * 16 + 8 * 4 * 16]
    cost = spec_cost(spec, (16, 16))
    assert [lc.madds[0] for lc in cost.layers] == blocks and cost.madds == stem + sum(blocks) == 30080
    net = DerivedMobileNetV3(spec=spec, out_indices=(0, 1), init_cfg=[]).eval()
    assert count_model(net, torch.zeros(1, 3, 16, 16)).madds == cost.madds
    seen = {}
    for j, block in enumerate(net.stages[0]):
        block.register_forward_hook(lambda m, i, o, j=j: seen.update({f'x{j}': i[0], f'out{j}': o}))
        if block.linear_conv is not None:
            block.linear_conv.register_forward_hook(lambda m, i, o, j=j: seen.update({f'y{j}': o}))
    with torch.no_grad():
        outs = net(torch.randn(2, 3, 16, 16))
    assert [o.shape[1] for o in outs] == [6, 4]
    x, y, out = seen['x0'], seen['y0'], seen['out0']  # 4 -> conv path 6: the input is padded
    assert torch.equal(out[:, :4], y[:, :4] + x) and torch.equal(out[:, 4:], y[:, 4:])
    x, y, out = seen['x1'], seen['y1'], seen['out1']  # 6 -> conv path 2: the projection is padded
    assert torch.equal(out[:, :2], y + x[:, :2]) and torch.equal(out[:, 2:], x[:, 2:])
    assert torch.equal(seen['out2'], seen['x2'])  # a removed body is the identity


def test_malformed_padded_mbv3_specs_name_the_problem():
    # '_b' is for layers without a residual: under 'pad' every stride-1 layer has one
    assert_spec_error('netadaptv2_space_latency', {'stages.4.blocks.0': 'k5e6_se_h1024_b64'},
                      ['stage 4 layer 0', "'_b' (channel-level bypass) is for layers without a residual"])
    assert_spec_error('netadaptv2_space_latency', {'stages.3.blocks.0': 'k5e6_se_h0'},
                      ['stage 3 layer 0', 'hidden width 0', 'needs stride 1'])
    assert_spec_error('netadaptv2_space_latency', {'shortcut': 'pad_proj'},
                      ["shortcut 'pad_proj' not allowed for a mbv3 spec", "['conv', 'pad']"])


# -- elastic networks: '_d', '_se{n}' and the padded residual, exactly ------------------------------
TINY_MAX = dict(name='tiny_nav2', family='mbv3', act='hswish', shortcut='pad', stem=dict(out_channels=8), stages=[
    dict(out_channels=8, stride=1, act='relu', blocks=['k3e1']),
    dict(out_channels=16, stride=2, act='relu', blocks=['k5e4_se_h32_b8', 'k3e3_h48']),
    dict(out_channels=24, stride=2, blocks=['k5e4_se_h64_b16', 'k5e3_se_h72', 'k3e3_h64']),
    dict(out_channels=24, stride=1, blocks=['k5e4_se_h96', 'k3e4_se_h96'])], head=dict(out_channels=32))


def _sub(widths):
    """A sub-network of TINY_MAX: per layer (hidden, depthwise, conv width, squeeze) with fixed kernels."""
    kernels = [[3], [3, 3], [5, 5, 3], [3]]
    es = [['1'], ['4', '3'], ['4', '3', '3'], ['4']]
    se = [[False], [True, False], [True, True, False], [True]]
    bypass = [[None], [8, None], [16, None, None], [None]]
    stages = []
    for s, layers in enumerate(widths):
        blocks = []
        for j, (h, dw, c, sq) in enumerate(layers):
            tok = f'k{kernels[s][j]}e{es[s][j]}'
            if se[s][j]:
                tok += '_se' if sq is None else f'_se{sq}'
            tok += '' if h is None else f'_h{h}'
            tok += '' if dw is None else f'_d{dw}'
            tok += '' if c is None else f'_c{c}'
            tok += '' if bypass[s][j] is None else f'_b{bypass[s][j]}'
            blocks.append(tok)
        stages.append(dict(TINY_MAX['stages'][s], blocks=blocks))
    return dict(TINY_MAX, name='sub', stages=stages, head=dict(out_channels=24))


SUBS = [
    # depthwise bypass at stride 1 and 2, explicit squeeze widths, narrow and wide conv paths, a removed body
    _sub([[(None, 4, 8, None)], [(24, 12, 12, None), (40, 20, 16, None)],
          [(48, 16, 20, 8), (0, None, None, None), (64, 32, 8, None)], [(96, 40, 16, None)]]),
    _sub([[(None, None, 8, None)], [(32, 8, 16, 8), (48, 48, 12, None)],
          [(64, 40, 24, None), (72, 24, 24, 16), (32, None, 24, None)], [(80, 80, 24, 24)]]),
    _sub([[(None, 8, 8, None)], [(16, None, 8, None), (24, 4, 16, None)],
          [(32, 32, 12, 16), (48, 48, 16, None), (0, None, None, None)], [(0, None, None, None)]]),
]


def _elastic():
    torch.manual_seed(0)
    net = ElasticMobileNetV3(spec=TINY_MAX, out_indices=(1, 3, 4), pad_outputs=True)  # torch's default init
    g = torch.Generator().manual_seed(1)
    for m in net.modules():  # non-trivial BN statistics and affine parameters
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.5, 1.5, generator=g)
            m.bias.data.uniform_(-0.5, 0.5, generator=g)
            m.running_mean.uniform_(-0.5, 0.5, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)
    return net.double().eval()


def test_elastic_subnets_with_depthwise_widths_equal_their_exported_networks():
    net = _elastic()
    x = torch.randn(2, 3, 24, 20, dtype=torch.float64)
    for sub in SUBS:
        net.set_subnet(sub)
        derived, spec, state = _exported(net)
        with torch.no_grad():
            ys, zs = net(x), derived(x)
        for y, z in zip(ys, zs):
            assert torch.equal(y[:, :z.shape[1]], z) and not y[:, z.shape[1]:].any(), spec.describe()
        # the exported depthwise conv holds the leading filters of the max one
        block = spec.layers()[2].candidates[0]  # stage 1 layer 1
        if block.depthwise is not None:
            assert torch.equal(state['stages.1.1.depthwise_conv.conv.weight'],
                               net.state_dict()['stages.1.1.depthwise_conv.conv.weight'][:block.depthwise])
        assert spec_cost(spec, (24, 20)).madds == count_model(derived, x[:1]).madds


def test_per_sample_subnets_with_depthwise_widths():
    net = _elastic()
    x = torch.randn(len(SUBS), 3, 24, 20, dtype=torch.float64)
    net.set_sample_subnets(SUBS)
    with torch.no_grad():
        batch = net(x)
    net.clear_sample_subnets()
    for n, sub in enumerate(SUBS):
        net.set_subnet(sub)
        with torch.no_grad():
            alone = net(x[n:n + 1])
        for y, z in zip(batch, alone):
            assert torch.allclose(y[n:n + 1], z, rtol=0, atol=1e-12), (n, (y[n:n + 1] - z).abs().max())


def test_elastic_subnets_must_fit_the_max_depthwise_and_squeeze_widths():
    with pytest.raises(SpecError, match=r"stage 2 layer 0: squeeze width 24 is wider than the max 16"):
        resolve_subnet(TINY_MAX, _sub([[(None, 4, 8, None)], [(24, 12, 12, None), (40, 20, 16, None)],
                                       [(48, 16, 20, 24)], [(96, 40, 16, None)]]))
    narrow = dict(TINY_MAX, stages=[dict(TINY_MAX['stages'][0], blocks=['k3e1_d4'])] + TINY_MAX['stages'][1:])
    with pytest.raises(SpecError, match=r"stage 0 layer 0: depthwise width 6 is wider than the max depthwise conv 4"):
        resolve_subnet(narrow, _sub([[(None, 6, 8, None)], [(24, 12, 12, None), (40, 20, 16, None)],
                                     [(48, 16, 20, 8)], [(96, 40, 16, None)]]))
    # a conv path wider than the max one, under 'pad' (the output max(M, C) alone would not tell)
    with pytest.raises(SpecError, match=r'stage 3 layer 0: conv width 32 is wider than the max 24'):
        resolve_subnet(TINY_MAX, _sub([[(None, 4, 8, None)], [(24, 12, 12, None), (40, 20, 16, None)],
                                       [(48, 16, 20, 8)], [(96, 40, 32, None)]]))


@pytest.mark.parametrize('space,table', [('netadaptv2_space_latency', 'netadaptv2_table8'),
                                         ('netadaptv2_space_madds', 'netadaptv2_table9')])
def test_discovered_networks_run_inside_their_elastic_spaces(space, table):
    """Stages 0-2 (a strided depthwise bypass in Table 9, removed blocks, padded residuals): the elastic
    space at the table's network, and at a random draw of ElasticSpace, equals the exported network."""
    torch.manual_seed(0)
    net = ElasticMobileNetV3(spec=space, out_indices=(2, ), pad_outputs=False)
    g = torch.Generator().manual_seed(1)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)
    net = net.double().eval()
    x = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    draw = ElasticSpace(space, width_ratios=[i / 8 for i in range(9)], kernels=(3, 5, 7), divisor=1).sample(g)
    for sub in (load_spec(table), draw):
        net.set_subnet(sub)
        derived, spec, state = _exported(net)
        with torch.no_grad():
            assert torch.equal(net(x)[0], derived(x)[0]), sub.name
