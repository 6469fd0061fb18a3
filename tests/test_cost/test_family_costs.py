"""Costs of the mbv1 / mbv3 families: literature figures, hand counts, hook counts, the count_cost --spec CLI."""
import os.path as osp
import random
import sys

import pytest
import torch

from mmadapt.arch import load_spec, spec_from_dict
from mmadapt.cost import classifier_cost, count_model, format_count, se_cost, spec_cost
from mmadapt.models.backbones import derived_backbone_class

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _derived(spec, **kwargs):
    spec = load_spec(spec)
    return derived_backbone_class(spec.family)(spec=spec, **kwargs)


# ImageNet figures at 224 with the 1000-class classifier: MobileNetV1 paper (Table 8), MobileNetV3
# paper (Table 3), EfficientNet paper (Table 2). Our convention: SE convs are multiply-adds,
# activations and the SE scaling are not.
LITERATURE = [('mobilenet_v1', 569e6, 4.2e6), ('mobilenet_v3_large', 219e6, 5.4e6),
              ('mobilenet_v3_small', 56e6, 2.5e6), ('efficientnet_b0', 390e6, 5.3e6)]


@pytest.mark.parametrize('spec,madds,params', LITERATURE)
def test_literature_figures_at_224(spec, madds, params):
    cost = classifier_cost(spec, 1000, (224, 224))
    assert abs(cost.madds - madds) / madds < 0.03, format_count(cost.madds)
    assert abs(cost.params - params) / params < 0.03, format_count(cost.params)


# the library models with their classifiers, counted by hooks, equal the analytic count exactly
@pytest.mark.parametrize('lib,name,spec', [('timm', 'mobilenetv1_100', 'mobilenet_v1'),
                                           ('timm', 'mobilenetv3_large_100', 'mobilenet_v3_large'),
                                           ('timm', 'efficientnet_b0', 'efficientnet_b0'),
                                           ('torchvision', 'mobilenet_v3_small', 'mobilenet_v3_small')])
def test_classifier_cost_equals_the_counted_library_model(lib, name, spec):
    if lib == 'timm':
        model = pytest.importorskip('timm').create_model(name, pretrained=False, num_classes=10)
    else:
        import torchvision
        model = getattr(torchvision.models, name)(num_classes=10)
    counted = count_model(model, torch.zeros(1, 3, 64, 80))
    ours = classifier_cost(spec, 10, (64, 80))
    assert (ours.madds, ours.params) == (counted.madds, counted.params)


def test_hand_computed_blocks():
    """A k5e6_se block 24 -> 40 at stride 2 on a 10x14 map (SE of MobileNetV3), a MobileNetV1 block."""
    d = load_spec('mobilenet_v3_large').to_dict()
    d['stages'][2]['blocks'][0] = 'k5e6_se'
    cost = spec_cost(d, (80, 112))
    layer = [lc for lc in cost.layers if (lc.info.stage, lc.info.layer) == (2, 0)][0]
    assert layer.in_hw == (20, 28)
    hidden, se = 144, 40  # make_divisible(144 / 4, 8) = 40
    madds = 20 * 28 * 24 * hidden + 10 * 14 * hidden * 25 + 2 * hidden * se + 10 * 14 * hidden * 40
    params = (24 * hidden + 2 * hidden + hidden * 25 + 2 * hidden + hidden * se + se + se * hidden + hidden
              + hidden * 40 + 2 * 40)
    assert layer.madds == [madds] and layer.params == [params]
    assert se_cost(hidden, se) == (2 * hidden * se, 2 * hidden * se + hidden + se)
    v1 = spec_cost('mobilenet_v1', (64, 64))
    layer = v1.layers[1]  # 64 -> 128, stride 2, 32x32 -> 16x16
    assert layer.madds == [16 * 16 * 64 * 9 + 16 * 16 * 64 * 128]
    assert layer.params == [64 * 9 + 2 * 64 + 64 * 128 + 2 * 128]


def _random_variant(name, rng):
    """The seed with random kernels, expansions, explicit widths, SE on / off and stage activations."""
    d = load_spec(name).to_dict()
    d['name'] = f'{name}_random'
    for stage in d['stages']:
        blocks = []
        for j, _ in enumerate(stage['blocks']):
            k = rng.choice([3, 5, 7])
            if d['family'] == 'mbv1':
                blocks.append(f'k{k}' + (f'_c{rng.randrange(8, 48)}' if rng.random() < 0.3 else ''))
                continue
            token = f"k{k}e{rng.choice([1, 2.5, 3, 6])}" + ('_se' if rng.random() < 0.5 else '')
            if rng.random() < 0.3:
                token += f'_h{rng.randrange(8, 100)}'
            if j > 0 and rng.random() < 0.3:
                token = 'skip' if rng.random() < 0.3 else token + f'_c{rng.randrange(8, 100)}'
            blocks.append(token)
        stage['blocks'] = blocks
        if d['family'] == 'mbv3':
            stage['act'] = rng.choice(['relu', 'hswish', 'swish'])
    return spec_from_dict(d)


@pytest.mark.parametrize('name', ['mobilenet_v1', 'mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0'])
def test_analytic_count_equals_counted_model(name):
    """The seed and two random variants: the whole network, and one truncated after a middle stage."""
    hw = (33, 47)  # odd sizes exercise the rounding of strided convs
    rng = random.Random(name)
    seed = load_spec(name)
    last = len(seed.stages) - (0 if seed.head is not None else 1)
    cases = [(seed, last), (_random_variant(name, rng), last), (_random_variant(name, rng), last // 2)]
    for spec, index in cases:
        model = _derived(spec, out_indices=(index, ), init_cfg=[])
        counted = count_model(model, torch.zeros(1, 3, *hw))
        cost = spec_cost(spec, hw, out_indices=(index, ))
        assert (cost.madds, cost.params) == (counted.madds, counted.params), (spec.describe(), index)


def test_classifier_cost_of_every_family():
    """pool + FC for mbv2 / resnet / mbv1 / EfficientNet, the hidden 1x1 conv of MobileNetV3."""
    mbv2 = classifier_cost('mobilenet_v2')
    assert mbv2.madds == spec_cost('mobilenet_v2', (224, 224)).madds + 1280 * 1000
    assert format_count(mbv2.madds) == '300.8M' and format_count(mbv2.params) == '3.50M'
    assert classifier_cost('resnet18', 10, (64, 64)).classifier_params == 512 * 10 + 10
    v3 = classifier_cost('mobilenet_v3_large', 100, (96, 96))
    assert (v3.classifier_madds, v3.classifier_params) == (960 * 1280 + 1280 * 100,
                                                           960 * 1280 + 1280 + 1280 * 100 + 100)
    assert v3.describe() == 'global pool, 1x1 conv 960 -> 1280 with bias and activation, FC 1280 -> 100'
    with pytest.raises(ValueError, match="spec 'fna_mbv2_det' has searchable layers"):
        classifier_cost('fna_mbv2_det')
    with pytest.raises(ValueError, match='num_classes must be a positive integer, got 0'):
        classifier_cost('mobilenet_v1', 0)


def _count_cost_main():
    sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))
    try:
        import count_cost
    finally:
        sys.path.pop(0)
    return count_cost.main


@pytest.mark.parametrize('spec,madds,params', [('mobilenet_v2', '300.8M', '3.50M'), ('resnet50', '4.09B', '25.56M'),
                                               ('mobilenet_v3_large', '216.6M', '5.48M'),
                                               ('mobilenet_v1', '568.7M', '4.23M'),
                                               ('efficientnet_b0', '385.8M', '5.29M')])
def test_count_cost_tool_with_spec(capsys, spec, madds, params):
    main = _count_cost_main()
    main(['--spec', spec, '--num-classes', '1000', '--shape', '224', '224'])
    lines = capsys.readouterr().out.splitlines()
    assert f'MAdds: {madds}' in lines and f'Params: {params}' in lines, lines
    assert lines[0] == f'Spec: {spec} ({load_spec(spec).family})'


def test_count_cost_tool_breakdown_and_errors(capsys, tmp_path):
    main = _count_cost_main()
    main(['--spec', 'mobilenet_v3_small', '--shape', '224', '--breakdown'])
    out = capsys.readouterr().out
    assert 'Classifier: global pool, 1x1 conv 576 -> 1024 with bias and activation, FC 1024 -> 1000' in out
    rows = [line.split()[0] for line in out.split('\n\n')[1].splitlines()[1:]]
    assert rows == ['stem', 'stage', 'stage', 'stage', 'stage', 'stage', 'head', 'classifier']
    with pytest.raises(SystemExit):  # neither
        main(['--shape', '224'])
    with pytest.raises(SystemExit):  # both
        main([osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py'), '--spec', 'mobilenet_v2'])
    assert 'exactly one of CONFIG or --spec' in capsys.readouterr().err
    with pytest.raises(SystemExit, match="'nope' is neither a file nor a built-in spec"):
        main(['--spec', 'nope'])
    with pytest.raises(SystemExit, match='has searchable layers'):
        main(['--spec', 'fna_mbv2_det'])
