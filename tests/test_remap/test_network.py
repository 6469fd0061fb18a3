"""Remapping whole backbones by spec (FNA++ Sec. 3.1, 3.2, Appendix A.1) and seed checkpoint adapters."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from mmadapt.arch import load_spec, path_spec, spec_from_dict
from mmadapt.models import DerivedMobileNetV2, DerivedResNet, SuperMobileNetV2, SuperResNet
from mmadapt.remap import (SeedFormatError, convert_seed, grouped_from_dense, load_seed, remap_into,
                           remap_kernel, remap_state_dict, seed_template, unwrap_checkpoint)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def randomise_bn(model, seed=0):
    """Non-trivial BN statistics and affine parameters, so that function checks mean something."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)
    return model.eval()


def derived(spec, **kwargs):
    spec = load_spec(spec)
    cls = DerivedMobileNetV2 if spec.family == 'mbv2' else DerivedResNet
    return cls(spec=spec, **kwargs)


def seed_model(name, spec):
    """A seed built from a library's own model definition, as a checkpoint would hold it."""
    torch.manual_seed(0)
    if name.startswith('torchvision.'):
        import torchvision
        lib = getattr(torchvision.models, name.split('.')[1])()
    else:
        timm = pytest.importorskip('timm')
        lib = timm.create_model(name.split('.')[1], pretrained=False)
    randomise_bn(lib)
    state, report = convert_seed(lib.state_dict(), spec, seed_template(spec))
    ours = derived(spec)
    ours.load_state_dict(state, strict=True)
    return lib, ours.eval(), state, report


def features(lib, x):
    if hasattr(lib, 'forward_features'):
        return lib.forward_features(x)
    if hasattr(lib, 'features'):
        return lib.features(x)
    x = lib.maxpool(lib.relu(lib.bn1(lib.conv1(x))))
    return lib.layer4(lib.layer3(lib.layer2(lib.layer1(x))))


def widen(spec_name, tokens):
    """The seed spec with its blocks replaced in order by ``tokens`` (same depth)."""
    d = load_spec(spec_name).to_dict()
    it = iter(tokens)
    for stage in d['stages']:
        stage['blocks'] = [next(it) for _ in stage['blocks']]
    d['name'] = spec_name + '_wide'
    return spec_from_dict(d)


@pytest.mark.parametrize('lib_name', ['torchvision.mobilenet_v2', 'timm.mobilenetv2_100'])
def test_wider_expansions_and_larger_kernels_preserve_the_function(lib_name):
    """Appendix A.1: MobileNetV2 remapped into e8 / k5 / k7 blocks computes the seed's features."""
    lib, seed, state, report = seed_model(lib_name, 'mobilenet_v2')
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(seed(x)[0], features(lib, x))  # the adapter itself is exact
    tokens = ['k5e1'] + [['k5e6', 'k7e8', 'k3e8', 'k7e6'][i % 4] for i in range(16)]
    target = derived(widen('mobilenet_v2', tokens))
    rep = remap_into(target, 'mobilenet_v2', state)
    assert rep.unfilled == [] and rep.unused == []
    with torch.no_grad():  # float64, so that only the remapping could make a difference
        torch.testing.assert_close(target.eval().double()(x.double())[0], features(lib.double(), x.double()))


@pytest.mark.parametrize('lib_name,spec', [('torchvision.resnet18', 'resnet18'), ('timm.resnet50', 'resnet50')])
def test_resnet_larger_kernels_preserve_the_function(lib_name, spec):
    lib, seed, state, _ = seed_model(lib_name, spec)
    x = torch.randn(1, 3, 64, 64)
    n = sum(s.depth for s in load_spec(spec).stages)
    target = derived(widen(spec, [['k5g1', 'k7g1'][i % 2] for i in range(n)]))
    remap_into(target, spec, state)
    with torch.no_grad():
        torch.testing.assert_close(target.eval().double()(x.double())[0], features(lib.double(), x.double()))


def test_seed_to_super_to_target():
    """Seed -> super-net (every candidate from the same seed layer); a path with the seed's depth
    and larger kernels computes the seed's function; super -> target is a pure collection."""
    lib, seed, state, _ = seed_model('torchvision.mobilenet_v2', 'mobilenet_v2')
    sup = SuperMobileNetV2(spec='fna_mbv2_det', out_indices=(2, 4, 6))
    rep = remap_into(sup, 'mobilenet_v2', state)
    assert rep.unfilled == [] and set(rep.unused) == {k for k in state if k.startswith('head.')}
    path = []
    seed_spec = load_spec('mobilenet_v2')
    for info in sup.spec.searchable_layers():
        beyond = info.layer >= seed_spec.stages[info.stage].depth
        path.append(6 if beyond else 5)  # skip where the seed has no layer, else k7e6
    sup.set_path(path)
    sup.eval()
    x = torch.randn(2, 3, 64, 64)
    seed3 = derived('mobilenet_v2', out_indices=(2, 4, 6))
    seed3.load_state_dict({k: v for k, v in state.items() if not k.startswith('head')}, strict=True)
    with torch.no_grad():
        for a, b in zip(sup(x), seed3.eval()(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    # super -> target: the chosen candidates are collected exactly
    gen = torch.Generator().manual_seed(1)
    sup.sample_path(gen)
    target = derived(sup.path_spec(), out_indices=(2, 4, 6))
    new_state, rep2 = remap_state_dict(sup.spec, sup.state_dict(), target.spec, target.state_dict())
    expected = sup.path_state_dict()
    assert new_state.keys() == expected.keys() and rep2.unfilled == []
    assert all(torch.equal(new_state[k], expected[k]) for k in expected)


def test_depth_mapping_follows_eq1():
    state = derived('mobilenet_v2').state_dict()
    d = load_spec('mobilenet_v2').to_dict()
    d['stages'][1]['blocks'] = ['k3e6'] * 4  # the seed stage has 2 layers
    target = derived(spec_from_dict(d))
    rep = remap_into(target, 'mobilenet_v2', state)
    assert [rep.sources[f'stages.1.{j}'].split(' ')[0] for j in range(4)] == \
        ['stages.1.0', 'stages.1.1', 'stages.1.1', 'stages.1.1']
    for j in (1, 2, 3):
        assert torch.equal(target.stages[1][j].expand_conv.conv.weight, state['stages.1.1.expand_conv.conv.weight'])
    # a seed with skip layers (Proxyless): layer j takes the j-th layer that has a block
    prox = derived('proxyless_mobile').state_dict()
    sup = SuperMobileNetV2(spec='fna_proxyless_mobile', out_indices=(1, ))
    rep = remap_into(sup, 'proxyless_mobile', prox)
    assert rep.sources['stages.1.3.candidates.0'].startswith('stages.1.1 ')


def _with_stage(spec_name, s, blocks, name):
    d = load_spec(spec_name).to_dict()
    d['stages'][s]['blocks'] = blocks
    d['name'] = name
    return spec_from_dict(d)


@pytest.mark.parametrize('source', ['seed', 'checkpoint'])
def test_a_skip_is_not_a_layer_of_eq1_on_either_side(source, tmp_path):
    """Eq. 1 over the layers that hold parameters: a skip before a block does not shift the blocks after
    it, so function-identical architectures (skips moved within a stage) get identical weights."""
    seed = randomise_bn(derived('mobilenet_v2'))
    state = seed.state_dict()
    early = _with_stage('mobilenet_v2', 3, ['k3e6', 'skip', 'k5e6', 'k7e3'], 'skip_early')
    late = _with_stage('mobilenet_v2', 3, ['k3e6', 'k5e6', 'k7e3', 'skip'], 'skip_late')
    nets, reports = {}, {}
    for spec in (early, late):
        if source == 'seed':
            nets[spec.name] = derived(spec)
            reports[spec.name] = remap_into(nets[spec.name], 'mobilenet_v2', state)
        else:  # the checkpoint path (tools/remap.py, fna param.init='seed')
            from mmadapt.models.checkpoint import remap_checkpoint
            path = str(tmp_path / 'seed.pth')
            torch.save(state, path)
            res = remap_checkpoint(path, 'mobilenet_v2', spec, source='seed')
            nets[spec.name] = {k[len('backbone.'):]: v for k, v in res.state_dict.items()}
            reports[spec.name] = res.report
    # the k5e6 and k7e3 layers take the seed's second and third layers, wherever the skip is
    assert reports['skip_early'].sources['stages.3.2'].startswith('stages.3.1 ')
    assert reports['skip_early'].sources['stages.3.3'].startswith('stages.3.2 ')
    assert reports['skip_late'].sources['stages.3.1'].startswith('stages.3.1 ')
    assert reports['skip_late'].sources['stages.3.2'].startswith('stages.3.2 ')
    a, b = nets['skip_early'], nets['skip_late']
    a = a.state_dict() if hasattr(a, 'state_dict') else a
    b = b.state_dict() if hasattr(b, 'state_dict') else b
    for (ja, jb) in ((0, 0), (2, 1), (3, 2)):
        keys = [k for k in a if k.startswith(f'stages.3.{ja}.')]
        assert keys
        for k in keys:
            assert torch.equal(a[k], b[k.replace(f'stages.3.{ja}.', f'stages.3.{jb}.', 1)]), k
    # and the two networks compute the same function
    if source == 'seed':
        x = torch.randn(2, 3, 64, 64)
        ea, eb = nets['skip_early'].eval(), nets['skip_late'].eval()
        assert torch.allclose(ea(x)[-1], eb(x)[-1], atol=1e-6)


def test_a_super_net_source_keeps_the_positional_rule():
    """Super-net -> target: each target block is the candidate of the same layer, skips included."""
    sup = SuperMobileNetV2(spec='fna_mbv2_det', out_indices=(4, ))
    for p in sup.parameters():
        torch.nn.init.normal_(p)
    state = sup.state_dict()
    d = load_spec('fna_mbv2_det').to_dict()
    for st in d['stages']:
        st['blocks'] = [b.split('|')[0] for b in st['blocks']]
    d['stages'][3]['blocks'] = ['k3e6', 'skip', 'k5e6', 'k7e3']
    d['name'] = 'path'
    target = derived(spec_from_dict(d), out_indices=(4, ))
    rep = remap_into(target, 'fna_mbv2_det', state)
    tokens = 'k3e3|k3e6|k5e3|k5e6|k7e3|k7e6'.split('|')
    for j, token in ((0, 'k3e6'), (2, 'k5e6'), (3, 'k7e3')):
        c = tokens.index(token)
        assert rep.sources[f'stages.3.{j}'].startswith(f'stages.3.{j}.candidates.{c} '), rep.sources[f'stages.3.{j}']
        src = f'stages.3.{j}.candidates.{c}.'
        for k, v in target.stages[3][j].state_dict().items():
            assert torch.equal(v, state[src + k]), k


def test_shrinking_and_width_strategies_pick_the_documented_channels():
    torch.manual_seed(0)
    seed = randomise_bn(derived('mobilenet_v2'))
    state = seed.state_dict()
    d = load_spec('mobilenet_v2').to_dict()
    d['stages'][2]['blocks'][1] = 'k3e3'  # hidden 192 -> 96
    spec = spec_from_dict(d)
    w = state['stages.2.1.expand_conv.conv.weight']
    gamma = state['stages.2.1.expand_conv.bn.weight']
    for strategy, index in [('fna', torch.arange(96)),
                            ('bn', torch.sort(torch.sort(-gamma.abs(), stable=True).indices[:96]).values),
                            ('l1', torch.sort(torch.sort(-w.abs().sum((1, 2, 3)), stable=True).indices[:96]).values)]:
        target = derived(spec)
        remap_into(target, 'mobilenet_v2', state, strategy)
        blk = target.stages[2][1]
        assert torch.equal(blk.expand_conv.conv.weight, w[index]), strategy
        assert torch.equal(blk.depthwise_conv.conv.weight, state['stages.2.1.depthwise_conv.conv.weight'][index])
        assert torch.equal(blk.linear_conv.conv.weight, state['stages.2.1.linear_conv.conv.weight'][:, index])
        assert torch.equal(blk.expand_conv.bn.running_var, state['stages.2.1.expand_conv.bn.running_var'][index])


def test_net2net_wider_and_deeper_preserve_the_function():
    torch.manual_seed(0)
    seed = randomise_bn(derived('mobilenet_v2'))
    x = torch.randn(1, 3, 64, 64)
    d = load_spec('mobilenet_v2').to_dict()
    d['stages'][3]['blocks'] = ['k3e8', 'k3e8', 'k3e6', 'k3e6', 'k3e6', 'k3e6']  # wider, and 2 more layers
    d['stages'][5]['blocks'].append('k3e6')
    spec = spec_from_dict(d)
    with torch.no_grad():
        ref = seed(x)[0]
        n2n = derived(spec)
        rep = remap_into(n2n, 'mobilenet_v2', seed.state_dict(), 'net2net')
        assert rep.sources['stages.3.4'] == 'Net2DeeperNet identity block'
        torch.testing.assert_close(n2n.eval()(x)[0], ref, rtol=1e-4, atol=1e-4)
        fna = derived(spec)
        remap_into(fna, 'mobilenet_v2', seed.state_dict(), 'fna')  # Eq. 1 copies layers: a new function
        assert not torch.allclose(fna.eval()(x)[0], ref, atol=1e-3)


def test_grouped_remapping_in_a_resnet():
    state = derived('resnet18').state_dict()
    d = load_spec('resnet18').to_dict()
    d['stages'][1]['blocks'][1] = 'k5g4'
    target = derived(spec_from_dict(d))
    remap_into(target, 'resnet18', state)
    seed_w = state['stages.1.1.conv1.conv.weight']
    expected = grouped_from_dense(remap_kernel(seed_w, 5), 4)
    assert torch.equal(target.stages[1][1].conv1.conv.weight, expected)


def test_random_strategy_remaps_nothing():
    state = derived('mobilenet_v2').state_dict()
    target = derived('mobilenet_v2')
    before = {k: v.clone() for k, v in target.state_dict().items()}
    rep = remap_into(target, 'mobilenet_v2', state, 'random')
    assert rep.remapped == [] and len(rep.unfilled) == len(before)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    with pytest.raises(ValueError, match="unknown remapping strategy 'fancy'"):
        remap_into(target, 'mobilenet_v2', state, 'fancy')


@pytest.mark.parametrize('lib', ['mmpretrain', 'mmdet'])
@pytest.mark.parametrize('arch', ['mobilenet_v2', 'resnet50'])
def test_openmmlab_backbone_checkpoints(lib, arch, tmp_path):
    torch.manual_seed(0)
    if lib == 'mmpretrain':
        from mmpretrain.models import MobileNetV2, ResNet
    else:
        from mmdet.models.backbones import MobileNetV2, ResNet
    backbone = MobileNetV2(out_indices=(7, )) if arch == 'mobilenet_v2' else ResNet(depth=50, out_indices=(3, ))
    randomise_bn(backbone)
    ckpt = dict(meta=dict(), state_dict={f'backbone.{k}': v for k, v in backbone.state_dict().items()})
    ckpt['state_dict']['head.fc.weight'] = torch.zeros(10, 4)
    path = tmp_path / 'seed.pth'
    torch.save(ckpt, path)
    state, report = load_seed(str(path), arch)
    expected_fmt = 'mmdet' if (lib == 'mmdet' and arch == 'mobilenet_v2') else 'mmpretrain'
    assert report.format == expected_fmt and report.prefix == 'backbone.'
    assert report.unused == ['head.fc.weight'] and report.missing == []
    ours = derived(arch)
    ours.load_state_dict(state, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(x)[0], backbone(x)[-1])


def test_reports_and_wrong_architectures(tmp_path):
    import torchvision
    tv = torchvision.models.resnet18().state_dict()
    with pytest.raises(SeedFormatError, match=r"does not fit spec 'resnet50': layer stages.0.0.conv1.conv.weight "
                                              r"\(torchvision key layer1.0.conv1.weight\) has shape \(64, 64, 3, 3\) "
                                              r'in the checkpoint, the spec needs \(64, 64, 1, 1\)'):
        convert_seed(tv, 'resnet50', seed_template('resnet50'))
    mb = torchvision.models.mobilenet_v2().state_dict()
    with pytest.raises(SeedFormatError, match=r"does not fit spec 'fbnet_c': layer stem.conv.weight .*"
                                              r'\(32, 3, 3, 3\) in the checkpoint, the spec needs \(16, 3, 3, 3\)'):
        convert_seed(mb, 'fbnet_c', seed_template('fbnet_c'))
    del mb['features.5.conv.1.1.running_var']
    _, report = convert_seed(mb, 'mobilenet_v2', seed_template('mobilenet_v2'))
    assert report.missing == ['stages.2.1.depthwise_conv.bn.running_var']
    assert report.unused == ['classifier.1.bias', 'classifier.1.weight']
    with pytest.raises(SeedFormatError, match='cannot tell the format'):
        convert_seed({'foo.weight': torch.zeros(1)}, 'mobilenet_v2', seed_template('mobilenet_v2'))
    with pytest.raises(SeedFormatError, match='no state dict of tensors'):
        unwrap_checkpoint({'state_dict': {'a': 1}})


def test_remap_initialiser_from_a_config(tmp_path):
    import torchvision
    from mmengine.registry import DefaultScope, MODELS
    import mmdet.registry  # noqa: F401
    torch.manual_seed(0)
    tv = randomise_bn(torchvision.models.mobilenet_v2())
    torch.save(tv.state_dict(), tmp_path / 'mbv2.pth')
    with DefaultScope.overwrite_default_scope('mmdet'):
        from mmdet.registry import MODELS as DET_MODELS
        sup = DET_MODELS.build(dict(type='mmadapt.SuperMobileNetV2', spec='fna_mbv2_det', out_indices=(6, ),
                                    init_cfg=dict(type='mmadapt.Remap', checkpoint=str(tmp_path / 'mbv2.pth'),
                                                  source='seed', strategy='fna')))
    sup.init_weights()
    seed_spec = load_spec('mobilenet_v2')
    sup.set_path([1 if info.layer < seed_spec.stages[info.stage].depth else 6
                  for info in sup.spec.searchable_layers()])  # k3e6 = the seed's block, skip beyond its depth
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        seed = derived('mobilenet_v2', out_indices=(6, ))
        state, _ = load_seed(str(tmp_path / 'mbv2.pth'), 'mobilenet_v2')
        seed.load_state_dict({k: v for k, v in state.items() if not k.startswith('head')})
        torch.testing.assert_close(sup.eval()(x)[0], seed.eval()(x)[0], rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="source='super' needs source_spec"):
        from mmadapt.remap import RemapInit
        RemapInit(checkpoint='x', source='super')
    del MODELS


def test_remap_tool(tmp_path):
    import torchvision
    torch.save(torchvision.models.mobilenet_v2().state_dict(), tmp_path / 'seed.pth')
    tool = [sys.executable, osp.join(ROOT, 'tools/remap.py')]
    out = subprocess.run(tool + [str(tmp_path / 'seed.pth'), '--src-spec', 'mobilenet_v2', '--dst-spec',
                                 'fna_mbv2_det', '--out', str(tmp_path / 'super.pth'), '--out-indices', '2', '4', '6',
                                 '--report', str(tmp_path / 'report.json')],
                         capture_output=True, text=True, check=True).stdout
    assert "seed format 'torchvision'" in out and 'not used: head.bn.bias' in out
    # a super-net model checkpoint (backbone + a neck) -> the derived network of a path
    sup_ckpt = torch.load(tmp_path / 'super.pth', weights_only=True)
    sup_ckpt['state_dict']['neck.conv.weight'] = torch.ones(2, 2)
    torch.save(sup_ckpt, tmp_path / 'search.pth')
    derived_spec = path_spec(load_spec('fna_mbv2_det'), [3] * 21)
    from mmadapt.arch import dump_spec
    dump_spec(derived_spec, str(tmp_path / 'derived.yaml'))
    out = subprocess.run(tool + [str(tmp_path / 'search.pth'), '--source', 'super', '--src-spec', 'fna_mbv2_det',
                                 '--dst-spec', str(tmp_path / 'derived.yaml'), '--out', str(tmp_path / 'target.pth'),
                                 '--out-indices', '2', '4', '6'], capture_output=True, text=True, check=True).stdout
    assert 'copied as they are (outside the backbone): 1 tensors' in out
    target = torch.load(tmp_path / 'target.pth', weights_only=True)
    net = derived(derived_spec, out_indices=(2, 4, 6))
    backbone = {k[len('backbone.'):]: v for k, v in target['state_dict'].items() if k.startswith('backbone.')}
    net.load_state_dict(backbone, strict=True)
    assert torch.equal(target['state_dict']['neck.conv.weight'], torch.ones(2, 2))
    assert target['meta']['arch_spec']['name'] == derived_spec.name
    bad = subprocess.run(tool + [str(tmp_path / 'seed.pth'), '--src-spec', 'resnet50', '--dst-spec', 'fna_resnet50',
                                 '--out', str(tmp_path / 'bad.pth')], capture_output=True, text=True)
    assert bad.returncode != 0 and "no tensor of the checkpoint matches spec 'resnet50'" in bad.stderr
    assert not (tmp_path / 'bad.pth').exists()


@pytest.mark.parametrize('timm_name,spec', [('mobilenetv2_100', 'mobilenet_v2'), ('fbnetc_100', 'fbnet_c'),
                                            ('mnasnet_100', 'mnasnet_b1'), ('spnasnet_100', 'spnasnet'),
                                            ('resnet18', 'resnet18')])
def test_timm_seeds_convert_exactly(timm_name, spec):
    """Each timm seed, renamed by the adapter, computes exactly timm's features."""
    lib, ours, _, report = seed_model(f'timm.{timm_name}', spec)
    assert report.format == ('timm' if spec != 'resnet18' else 'torchvision') and report.missing == []
    assert report.unused == (['fc.bias', 'fc.weight'] if spec == 'resnet18' else
                             ['classifier.bias', 'classifier.weight'])
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours.double()(x)[0], features(lib.double(), x))
