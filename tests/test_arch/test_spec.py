"""Architecture specs: built-in files, the paper's search spaces, round trips and validation errors."""
import json

import pytest
import torch

from mmadapt.arch import (SpecError, arch_params_from_state_dict, builtin_specs, derive_spec, draw_spec,
                          dump_spec, load_spec, path_spec, spec_from_dict)

MB_CANDS = ['k3e3', 'k3e6', 'k5e3', 'k5e6', 'k7e3', 'k7e6']
RES_CANDS = ['k3g1', 'k5g2', 'k5g4', 'k7g4', 'k7g8']

# (out channels, layers, stride, dilation) per stage after the fixed k3e1 stage: Table 1 / Table 9
TABLE1 = {
    'fna_mbv2_det': [(24, 4, 2, 1), (32, 4, 2, 1), (64, 4, 2, 1), (96, 4, 1, 1), (160, 4, 2, 1), (320, 1, 1, 1)],
    'fna_mbv2_pose': [(24, 4, 2, 1), (32, 4, 2, 1), (64, 4, 2, 1), (96, 4, 1, 1), (160, 4, 2, 1), (320, 1, 1, 1)],
    'fna_mbv2_seg_os16': [(24, 4, 2, 1), (32, 4, 2, 1), (64, 6, 2, 1), (96, 6, 1, 1), (160, 4, 1, 2),
                          (320, 1, 1, 2)],
    'fna_mbv2_seg_os8': [(24, 4, 2, 1), (32, 4, 2, 1), (64, 6, 1, 2), (96, 6, 1, 2), (160, 4, 1, 4),
                         (320, 1, 1, 4)],
    'fna_fbnet_c': [(24, 4, 2, 1), (32, 4, 2, 1), (64, 4, 2, 1), (112, 4, 1, 1), (184, 4, 2, 1), (352, 1, 1, 1)],
    'fna_proxyless_mobile': [(32, 4, 2, 1), (40, 4, 2, 1), (80, 4, 2, 1), (96, 4, 1, 1), (192, 4, 2, 1),
                             (320, 1, 1, 1)],
}
STEM = {'fna_fbnet_c': 16}


def test_builtin_specs_load_and_round_trip(tmp_path):
    names = builtin_specs()
    assert {'mobilenet_v2', 'resnet18', 'resnet50', 'fbnet_c', 'proxyless_mobile', 'fna_mbv2_det',
            'fna_mbv2_seg_os16', 'fna_mbv2_seg_os8', 'fna_mbv2_pose', 'fna_resnet18', 'fna_resnet50',
            'fna_fbnet_c', 'fna_proxyless_mobile'} <= set(names)
    for name in names:
        spec = load_spec(name)
        for ext in ('json', 'yaml'):
            path = tmp_path / f'{name}.{ext}'
            text = dump_spec(spec, str(path))
            assert path.read_text() == text
            assert load_spec(str(path)).to_dict() == spec.to_dict()
        assert json.loads(dump_spec(spec, fmt='json'))['name'] == name


@pytest.mark.parametrize('name', sorted(TABLE1))
def test_mobilenet_search_spaces_follow_the_paper(name):
    spec = load_spec(name)
    assert spec.stem['out_channels'] == STEM.get(name, 32) and spec.stem['stride'] == 2
    first = spec.stages[0]
    assert (first.out_channels, first.stride, [[b.token for b in c] for c in first.layers]) == \
        (16, 1, [['k3e1_h16' if name == 'fna_fbnet_c' else 'k3e1']])
    got = [(s.out_channels, s.depth, s.stride, s.dilation) for s in spec.stages[1:]]
    assert got == TABLE1[name]
    for stage in spec.stages[1:]:
        for j, cands in enumerate(stage.layers):
            expected = MB_CANDS if j == 0 else MB_CANDS + ['skip']
            assert [b.token for b in cands] == expected
    # output stride of the segmentation spaces, and 32 for the others
    assert spec.stage_strides()[-1] == {'fna_mbv2_seg_os16': 16, 'fna_mbv2_seg_os8': 8}.get(name, 32)


@pytest.mark.parametrize('name,block,depths', [('fna_resnet18', 'basic', [2, 2, 2, 2]),
                                               ('fna_resnet50', 'bottleneck', [3, 4, 6, 3])])
def test_resnet_search_spaces_follow_table7(name, block, depths):
    spec = load_spec(name)
    seed = load_spec(name.replace('fna_', ''))
    assert spec.block_type == block == seed.block_type
    assert [s.depth for s in spec.stages] == depths == [s.depth for s in seed.stages]
    assert all([b.token for b in c] == RES_CANDS for s in spec.stages for c in s.layers)
    assert all([b.token for b in c] == ['k3g1'] for s in seed.stages for c in s.layers)
    assert spec.num_paths() == 5**sum(depths)


def test_seed_specs():
    proxy = load_spec('proxyless_mobile')
    assert [[b.token for b in c][0] for c in proxy.stages[1].layers] == ['k5e3', 'k3e3', 'skip', 'skip']
    assert proxy.stage_out_channels() == [16, 32, 40, 80, 96, 192, 320]
    fb = load_spec('fbnet_c')
    assert fb.act == 'relu' and fb.head == {'out_channels': 1984}
    assert fb.stage_out_channels() == [16, 24, 32, 64, 112, 184, 352]
    mb = load_spec('mobilenet_v2')
    assert [s.depth for s in mb.stages] == [1, 2, 3, 4, 3, 3, 1]
    assert mb.describe().startswith('stem c32 s2 | c16 s1 d1: k3e1 | c24 s2 d1: k3e6 k3e6 |')
    assert mb.is_derived and not load_spec('fna_mbv2_det').is_derived


def _spec(name, **changes):
    """The built-in spec ``name`` as a dict, with ``changes`` (dotted paths -> value, KeyError deletes)."""
    d = load_spec(name).to_dict()
    for path, value in changes.items():
        target = d
        keys = path.split('.')
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return d


def _mbv2(**changes):
    return _spec('mobilenet_v2', **changes)


@pytest.mark.parametrize('changes,expected', [
    ({'stages.2.blocks.1': 'k4e6'}, ["stage 2 layer 1", "'k4e6'", 'kernel must be odd']),
    ({'stages.2.blocks.1': 'k3x6'}, ["stage 2 layer 1", "unknown block token 'k3x6'", "'k{kernel}e{expansion}'"]),
    ({'stages.3.blocks.0': 'k3g2'}, ["stage 3 layer 0", "unknown block token 'k3g2'", 'mbv2']),
    ({'stages.1.stride': 3}, ['stage 1', 'stride 3 not allowed', 'allowed: [1, 2]']),
    ({'stages.6': KeyError}, ['needs 7 stages, got 6', 'missing stage 6']),
    ({'stages.2.blocks.0': 'skip'}, ['stage 2 layer 0', "'skip' is not allowed in the first layer"]),
    ({'stages.2.out_channels': 0}, ['stage 2', 'out_channels must be an integer >= 1, got 0']),
    ({'stages.2.out_channels': '32'}, ['stage 2', "out_channels must be an integer >= 1, got '32'"]),
    ({'stages.2.stirde': 2}, ['stage 2', "unknown field(s) ['stirde']"]),
    ({'stages.2.blocks': []}, ['stage 2', 'blocks must be a non-empty list']),
    ({'family': 'vgg'}, ["unknown family 'vgg'", "allowed: ['mbv2', 'resnet']"]),
    ({'stem': KeyError}, ["missing field 'stem'"]),
    ({'stages.2.blocks.1': 'k3e6|k5e6_c40'}, ['stage 2 layer 1', 'different output widths']),
    ({'stages.2.blocks.0': 'k3e6_h0'}, ['stage 2 layer 0', 'hidden width 0', 'no shortcut']),
    ({'stages.2.blocks.1': 'k3e6|k3e6'}, ['stage 2 layer 1', 'duplicate candidates']),
    ({'act': 'gelu'}, ["activation 'gelu' not allowed"]),
])
def test_malformed_specs_name_the_problem(changes, expected):
    with pytest.raises(SpecError) as info:
        spec_from_dict(_mbv2(**changes))
    message = str(info.value)
    assert "spec 'mobilenet_v2'" in message
    for part in expected:
        assert part in message, message


def test_resnet_groups_must_divide_widths():
    d = load_spec('resnet18').to_dict()
    d['stages'][0]['blocks'][0] = 'k3g3'
    with pytest.raises(SpecError, match=r"stage 0 layer 0: 'k3g3': 3 groups do not divide the conv widths 64 -> 64"):
        spec_from_dict(d)
    d['stages'][0]['blocks'][0] = 'k3e6'
    with pytest.raises(SpecError, match="unknown block token 'k3e6' for a resnet spec"):
        spec_from_dict(d)


def test_unknown_names_and_files(tmp_path):
    with pytest.raises(SpecError, match="'nope' is neither a file nor a built-in spec.*mobilenet_v2"):
        load_spec('nope')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('stages: [\n')
    with pytest.raises(SpecError, match='cannot parse spec file .*bad.yaml'):
        load_spec(str(bad))
    bad.write_text('name: x\nfamily: mbv2\nstem: {out_channels: 32}\nstages: []\n')
    with pytest.raises(SpecError, match=r"bad.yaml: spec 'x': a mbv2 spec needs 7 stages, got 0"):
        load_spec(str(bad))


def test_explicit_widths():
    d = _mbv2(**{'stages.2.blocks': ['k3e6', 'k5e6_h100_c40', 'k3e1_h0'], 'stages.3.blocks.1': 'skip'})
    spec = spec_from_dict(d)
    layers = {(i.stage, i.layer): i for i in spec.layers()}
    l21, l22 = layers[(2, 1)], layers[(2, 2)]
    assert (l21.in_channels, l21.out_channels, l21.hidden(l21.candidates[0])) == (32, 40, 100)
    assert l21.has_shortcut()  # zero-padded shortcut 32 -> 40
    # the bypassed layer keeps its input width, 40: the stage's out_channels (32) is the default for blocks
    # without a suffix, so the next stage starts from the last layer's width
    assert (l22.in_channels, l22.out_channels, l22.hidden(l22.candidates[0])) == (40, 32, 0)
    assert layers[(3, 0)].in_channels == 32
    assert spec.stage_out_channels()[2] == 32
    again = spec_from_dict(json.loads(dump_spec(spec, fmt='json')))
    assert [b.token for b in again.layers()[4].candidates] == ['k5e6_h100_c40']


def test_derive_and_path_specs():
    space = load_spec('fna_mbv2_det')
    layers = space.searchable_layers()
    assert len(layers) == 21
    alphas = [torch.zeros(len(i.candidates)) for i in layers]
    alphas[0][3] = 1.0  # k5e6 in the first searchable layer
    alphas[1][6] = 2.0  # skip
    alphas[2][1] = alphas[2][4] = 0.5  # a tie goes to the first candidate: k3e6
    derived = derive_spec(space, alphas)
    assert derived.is_derived and derived.name == 'fna_mbv2_det_derived'
    tokens = [i.candidates[0].token for i in derived.layers()]
    assert tokens[1:4] == ['k5e6', 'skip', 'k3e6'] and tokens[4:] == ['k3e3'] * 18
    path = [int(a.argmax()) for a in alphas]
    assert path_spec(space, path).to_dict()['stages'] == derived.to_dict()['stages']
    with pytest.raises(SpecError, match='21 searchable layers, got 20'):
        derive_spec(space, alphas[:-1])
    with pytest.raises(SpecError, match='stage 1 layer 0 has 6 candidates, got 7'):
        derive_spec(space, [torch.zeros(7)] + alphas[1:])
    state = {f'backbone.arch_params.{i}': a for i, a in enumerate(alphas)}
    assert all(torch.equal(a, b) for a, b in zip(arch_params_from_state_dict(state), alphas))
    with pytest.raises(SpecError, match=r"no 'model.arch_params.N' entries.*\['backbone.'\]"):
        arch_params_from_state_dict(state, prefix='model.')


def test_draw_spec_writes_png(tmp_path):
    for name in ('mobilenet_v2', 'fna_resnet18', 'proxyless_mobile'):
        out = draw_spec(name, str(tmp_path / 'sub' / f'{name}.png'))
        with open(out, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_path_of_expresses_a_network_in_a_search_space():
    from mmadapt.arch import path_of, path_spec
    from mmadapt.cost import spec_cost
    space, seed = load_spec('fna_mbv2_det'), load_spec('mobilenet_v2')
    path = path_of(space, seed)
    derived = path_spec(space, path)
    # the seed's blocks, each stage padded with skips at its end: the same network, the same cost
    assert derived.describe().split('| c24')[1].startswith(' s2 d1: k3e6 k3e6 skip skip |')
    assert spec_cost(derived, (224, 224)).madds == spec_cost(seed, (224, 224)).madds
    assert path_of(space, derived) == path
    # a skip inside a stage is moved to its end (the same function)
    d = seed.to_dict()
    d['stages'][2]['blocks'] = ['k5e3', 'skip', 'k7e6']
    assert path_spec(space, path_of(space, spec_from_dict(d))).to_dict()['stages'][2]['blocks'] == \
        ['k5e3', 'k7e6', 'skip', 'skip']
    # what the space cannot express is named
    with pytest.raises(SpecError, match="stage 2 layer 0: 'k3e4' is not a candidate"):
        d['stages'][2]['blocks'] = ['k3e4']
        path_of(space, spec_from_dict(d))
    with pytest.raises(SpecError, match='stage 1: out_channels'):
        path_of(space, load_spec('proxyless_mobile'))
    with pytest.raises(SpecError, match='searchable layers'):
        path_of(space, space)
