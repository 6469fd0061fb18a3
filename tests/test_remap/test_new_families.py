"""Remapping the mbv1 (MobileNetV1) and mbv3 (MobileNetV3, EfficientNet) families: depthwise-separable
blocks and squeeze-excitations follow the rules of the other blocks (FNA++ Sec. 3.1)."""
import pytest
import torch

from mmadapt.arch import load_spec, parse_block, spec_from_dict
from mmadapt.models import derived_backbone_class
from mmadapt.remap import RemapInit, load_seed, remap_into, remap_state_dict
from .test_network import randomise_bn

FAMILY_SEEDS = ['mobilenet_v1', 'mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0']


def build(spec, **kwargs):
    spec = load_spec(spec)
    return derived_backbone_class(spec.family)(spec=spec, **kwargs)


def all_outputs(spec):
    spec = load_spec(spec)
    return tuple(range(len(spec.stages) + (spec.head is not None)))


def random_seed(name, **kwargs):
    torch.manual_seed(0)
    return randomise_bn(build(name, **kwargs))


def edit(name, new_name, stem=None, width=None, token=None, depth=None, se=None):
    """The spec ``name`` with its stem / stage widths, block tokens and stage depths rewritten.

    Args:
        stem / width: ``c -> c'`` for the stem's and every stage's (and the head's) output width.
        token: ``(block, position in the spec) -> token`` for every block.
        depth: ``stage depth -> new depth``. se: fields of the squeeze-excitation rule to change.
    """
    d = load_spec(name).to_dict()
    d['name'] = new_name
    d['stem']['out_channels'] = stem(d['stem']['out_channels'])
    index = 0
    for stage in d['stages']:
        stage['out_channels'] = width(stage['out_channels'])
        blocks = stage['blocks'][:depth(len(stage['blocks']))]
        tokens = []
        for t in blocks:
            tokens.append(token(parse_block(t, d['family']), index))
            index += 1
        stage['blocks'] = tokens
    if d.get('head'):
        d['head']['out_channels'] = width(d['head']['out_channels'])
    if se:
        d['se'] = dict(d['se'], **se)
    return spec_from_dict(d)


def _token(block, kernel, expansion=None):
    text = f'k{kernel}'
    if block.kind == 'mbconv':
        e = block.expansion if expansion is None else expansion
        text += f'e{int(e) if float(e).is_integer() else e}' + ('_se' if block.se else '')
    return text


def narrower(name):
    """Every width smaller, every other kernel smaller, stages of several layers one layer shallower."""
    def token(block, i):
        kernel = max(1, block.kernel - 2) if i % 2 else block.kernel
        e = block.expansion
        return _token(block, kernel, e if e == 1 else max(1, round(e - 1, 1)))
    return edit(name, name + '_narrow', stem=lambda c: c - 4, width=lambda c: c * 3 // 4, token=token,
                depth=lambda n: max(1, n - 1))


def wider(name):
    """Every width 8 wider (so that the same layers keep their shortcuts), larger kernels and
    expansions, and in mbv3 specs twice the squeeze-excitation ratio."""
    def token(block, i):
        kernel = block.kernel + 2 if i % 2 else block.kernel
        e = block.expansion
        return _token(block, kernel, e if e == 1 else e + 1)
    family = load_spec(name).family
    return edit(name, name + '_wide', stem=lambda c: c + 8, width=lambda c: c + 8, token=token, depth=lambda n: n,
                se=dict(ratio=0.5) if family == 'mbv3' else None)


def leading_slice(src: torch.Tensor, shape) -> torch.Tensor:
    """Leading channels on the two channel dimensions, the centre of the kernel."""
    index = []
    for dim, n in enumerate(shape):
        off = (src.shape[dim] - n) // 2 if dim >= 2 else 0
        index.append(slice(off, off + n))
    return src[tuple(index)]


@pytest.mark.parametrize('name', FAMILY_SEEDS)
def test_remapping_a_spec_into_itself_copies_every_tensor(name):
    state = random_seed(name).state_dict()
    new, report = remap_state_dict(name, state, name, build(name).state_dict())
    assert report.unfilled == [] and report.unused == [] and report.share_from_source == 1.0
    assert new.keys() == state.keys() and all(torch.equal(new[k], state[k]) for k in state)
    if name != 'mobilenet_v1':
        assert any('.se.conv_reduce.bias' in k for k in report.remapped)


@pytest.mark.parametrize('name', FAMILY_SEEDS)
def test_narrower_smaller_kernel_shallower_spec_takes_leading_slices_and_centres(name):
    state = random_seed(name).state_dict()
    spec = narrower(name)
    target = build(spec).state_dict()
    assert target.keys() < state.keys()  # shallower: the kept layers keep their names
    assert any(target[k].shape != state[k].shape for k in target if k.endswith('depthwise_conv.conv.weight'))
    new, report = remap_state_dict(name, state, spec, target)
    assert report.unfilled == []
    for key, value in new.items():
        assert all(n <= m for n, m in zip(value.shape, state[key].shape)), key
        assert torch.equal(value, leading_slice(state[key], value.shape)), key
    if name != 'mobilenet_v1':  # the squeeze widths shrank with the blocks' widths
        se = [k for k in new if k.endswith('se.conv_reduce.weight')]
        assert se and any(new[k].shape[0] < state[k].shape[0] for k in se)


@pytest.mark.parametrize('name', FAMILY_SEEDS)
def test_wider_spec_preserves_the_function_on_the_old_channels(name):
    """More channels, larger kernels, more squeeze-excitation width: zeros around the seed (Eq. 3, 6)."""
    out = all_outputs(name)
    seed = random_seed(name, out_indices=out).double()
    spec = wider(name)
    target = build(spec, out_indices=out).double()
    report = remap_into(target, name, seed.state_dict(), 'fna')
    assert report.unfilled == [] and report.unused == []
    src_se = {k: v.shape[0] for k, v in seed.state_dict().items() if k.endswith('se.conv_reduce.weight')}
    dst_se = {k: v.shape[0] for k, v in target.state_dict().items() if k.endswith('se.conv_reduce.weight')}
    assert src_se.keys() == dst_se.keys() and all(dst_se[k] > src_se[k] for k in src_se)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        expected, got = seed(x), target.eval()(x)
    assert len(expected) == len(got) == len(out)
    for e, g in zip(expected, got):
        assert g.shape[1] > e.shape[1]
        torch.testing.assert_close(g[:, :e.shape[1]], e, rtol=1e-9, atol=1e-9)


def test_squeeze_width_has_its_own_channel_map():
    """Only the squeeze width shrinks: 'l1' keeps the squeeze channels of largest L1 norm of the
    reduce conv (weight rows and bias of the reduce conv, columns of the expand conv); 'bn' has no BN
    to rank them by and keeps the leading ones."""
    name = 'efficientnet_b0'
    state = random_seed(name).state_dict()
    d = load_spec(name).to_dict()
    d['se']['ratio'] = 0.125
    spec = spec_from_dict(d)
    key = 'stages.3.1.se.'
    w, b, w2 = state[key + 'conv_reduce.weight'], state[key + 'conv_reduce.bias'], state[key + 'conv_expand.weight']
    n = build(spec).state_dict()[key + 'conv_reduce.weight'].shape[0]
    assert n == w.shape[0] // 2
    for strategy, index in [('l1', torch.sort(torch.sort(-w.abs().sum((1, 2, 3)), stable=True).indices[:n]).values),
                            ('bn', torch.arange(n))]:
        new, report = remap_state_dict(name, state, spec, build(spec).state_dict(), strategy)
        assert not torch.equal(index, torch.arange(n)) or strategy == 'bn'
        assert torch.equal(new[key + 'conv_reduce.weight'], w[index])
        assert torch.equal(new[key + 'conv_reduce.bias'], b[index])
        assert torch.equal(new[key + 'conv_expand.weight'], w2[:, index])
        assert torch.equal(new[key + 'conv_expand.bias'], state[key + 'conv_expand.bias'])
        # the hidden widths did not change: those tensors are copied
        assert torch.equal(new['stages.3.1.expand_conv.conv.weight'], state['stages.3.1.expand_conv.conv.weight'])
        assert report.unfilled == [] and report.unused == []
        assert any('squeeze-excitation has no BN' in note for note in report.notes) == (strategy == 'bn')


def test_net2net_wider_squeeze_preserves_the_function():
    """Net2WiderNet on hidden and squeeze widths: copies of channels, their readers divided by the copies."""
    name = 'mobilenet_v3_small'
    seed = random_seed(name).double()
    d = load_spec(name).to_dict()
    d['se']['ratio'] = 0.5
    target = build(spec_from_dict(d)).double()
    report = remap_into(target, name, seed.state_dict(), 'net2net')
    assert report.unfilled == []
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(target.eval()(x)[0], seed(x)[0], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize('lib,model,seed_spec', [
    ('timm', 'mobilenetv1_100', 'mobilenet_v1'),
    ('torchvision', 'mobilenet_v3_small', 'mobilenet_v3_small'),
    ('timm', 'efficientnet_b0', 'efficientnet_b0'),
])
def test_remap_initialiser_guesses_the_seed_spec_of_the_new_families(lib, model, seed_spec, tmp_path):
    torch.manual_seed(0)
    if lib == 'timm':
        timm = pytest.importorskip('timm')
        net = timm.create_model(model, pretrained=False)
    else:
        import torchvision
        net = getattr(torchvision.models, model)()
    path = str(tmp_path / 'seed.pth')
    torch.save(randomise_bn(net).state_dict(), path)
    target = build(seed_spec)
    init = RemapInit(checkpoint=path)  # no source_spec: tried in the order of SEED_SPECS
    init(target)
    assert init.report.unfilled == [] and init.report.unused == []
    state, _ = load_seed(path, seed_spec)
    assert all(torch.equal(v, state[k]) for k, v in target.state_dict().items())
