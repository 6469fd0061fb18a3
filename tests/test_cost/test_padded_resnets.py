"""MAdds of ResNets with zero-padded shortcuts (Network Adjustment): the paper's and the official code's
figures, and the analytic count against the built modules."""
import pytest
import torch

from mmadapt.arch import load_spec, spec_from_dict
from mmadapt.cost import classifier_cost, count_model, spec_cost
from mmadapt.models import DerivedResNet

# the official FLOPs function of Network Adjustment (MACs of convs and the FC, stem included), 100 classes
CIFAR = [('resnet20_cifar', 40_556_800, 40.1e6), ('resnet32_cifar', 68_868_352, 68.4e6),
         ('resnet56_cifar', 125_491_456, 125e6), ('resnet110_cifar', 252_893_440, 252e6)]
STEM = 3 * 16 * 9 * 32 * 32  # 442,368: the paper's CIFAR figures leave the stem conv out

# the released searched ResNet-18 0.8x (init_channel_config.py): conv1 / conv2 widths of its 8 blocks
SEARCHED_R18_08 = [26, 53, 16, 62, 103, 96, 84, 89, 366, 162, 184, 174, 673, 283, 637, 833]


@pytest.mark.parametrize('name,madds,paper', CIFAR)
def test_cifar_resnets_match_the_paper(name, madds, paper):
    cost = classifier_cost(name, 100, (32, 32))
    assert cost.madds == madds
    assert abs(cost.madds - STEM - paper) / paper < 0.005
    assert cost.classifier_madds == 64 * 100


def test_cifar_resnet_parameters():
    assert classifier_cost('resnet20_cifar', 100, (32, 32)).params == 275_572  # conv + BN affine + FC


def test_imagenet_resnet18_with_and_without_padded_shortcuts():
    conv = classifier_cost('resnet18', 1000, (224, 224))
    padded = classifier_cost('resnet18_padded', 1000, (224, 224))
    assert conv.madds == padded.madds == 1_814_073_344
    assert conv.params == padded.params == 11_689_512
    assert classifier_cost('resnet18_x0.8_padded', 1000, (224, 224)).madds == 1_171_139_520


def searched_r18_08():
    d = load_spec('resnet18_x0.8_padded').to_dict()
    d['name'] = 'resnet18_x0.8_searched'
    for s, stage in enumerate(d['stages']):
        stage['blocks'] = [f'k3g1_h{SEARCHED_R18_08[4 * s + 2 * j]}_c{SEARCHED_R18_08[4 * s + 2 * j + 1]}'
                           for j in range(2)]
    return spec_from_dict(d)


def test_released_searched_resnet18_x08():
    """The official counter gives 1,182,498,527 (and 11,820,676 parameters): ours is the same function."""
    cost = classifier_cost(searched_r18_08(), 1000, (224, 224))
    assert abs(cost.madds - 1_171_139_520) / 1_171_139_520 < 0.01
    assert cost.madds == 1_182_498_527
    assert cost.params == 11_820_676


def _non_uniform(shortcut):
    """Conv paths narrower and wider than the running width, changed hidden widths, a bypassed body."""
    if shortcut == 'pad':
        d = load_spec('resnet20_cifar').to_dict()
        d['stages'][0]['blocks'] = ['k3g1_h6_c17', 'k3g1_h6_c12', 'k3g1_h0']
        d['stages'][1]['blocks'] = ['k5g1_h26_c14', 'k3g1_h28_c24', 'skip']
        d['stages'][2]['blocks'] = ['k3g1_h78_c66', 'k3g1_h93_c40', 'k3g1_h112_c128']
    else:
        d = load_spec('resnet18_padded').to_dict()
        d['stem']['out_channels'] = 24
        d['stages'][0]['blocks'] = ['k3g1_h10_c20', 'k3g1_h30_c40']
        d['stages'][1]['blocks'] = ['k3g1_h20_c36', 'k3g1_h50_c30']
        d['stages'][2]['blocks'] = ['k3g1_h40_c72', 'k3g1_h0']
        d['stages'][3]['blocks'] = ['k3g1_c60', 'k5g1_h64_c100']
    d['name'] = f'non_uniform_{shortcut}'
    return spec_from_dict(d)


@pytest.mark.parametrize('shortcut', ['pad', 'pad_proj'])
@pytest.mark.parametrize('hw', [(32, 32), (33, 27)])
def test_analytic_count_equals_counted_model(shortcut, hw):
    spec = _non_uniform(shortcut)
    widths = [(i.in_channels, i.conv_out(i.candidates[0]), i.out_channels) for i in spec.layers()]
    assert any(m < o for _, m, o in widths) and any(m > c for c, m, _ in widths)  # narrower and wider paths
    for s in (load_spec('resnet20_cifar' if shortcut == 'pad' else 'resnet18_padded'), spec):
        model = DerivedResNet(spec=s, init_cfg=[]).eval()
        counted = count_model(model, torch.zeros(1, 3, *hw))
        cost = spec_cost(s, hw)
        assert (cost.madds, cost.params) == (counted.madds, counted.params), s.describe()
    # no projection anywhere under 'pad'; under 'pad_proj' at the three stride-2 stage starts only
    names = [n for n, _ in DerivedResNet(spec=spec, init_cfg=[]).named_modules() if n.endswith('downsample')]
    assert names == ([] if shortcut == 'pad' else ['stages.1.0.downsample', 'stages.2.0.downsample',
                                                   'stages.3.0.downsample'])
