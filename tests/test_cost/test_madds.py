"""The cost model: paper figures, analytic tables against counted models and mmengine's counter."""
import os.path as osp
import random
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from mmadapt.arch import builtin_specs, load_spec, path_spec
from mmadapt.cost import conv_madds, count_model, expected_madds, format_count, spec_cost
from mmadapt.models import DerivedMobileNetV2, DerivedResNet, SuperMobileNetV2, SuperResNet

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _derived(spec, **kwargs):
    from mmadapt.models.backbones import derived_backbone_class
    spec = load_spec(spec)
    return derived_backbone_class(spec.family)(spec=spec, **kwargs)


def _super(spec, **kwargs):
    spec = load_spec(spec)
    cls = SuperMobileNetV2 if spec.family == 'mbv2' else SuperResNet
    return cls(spec=spec, **kwargs)


def _classifier_madds(spec_name, classes=1000):
    spec = load_spec(spec_name)
    width = spec.head['out_channels'] if spec.head else spec.stage_out_channels()[-1]
    cost = spec_cost(spec, (224, 224))
    return cost.madds + width * classes, cost.params + width * classes + classes


@pytest.mark.parametrize('spec,madds,params', [
    ('mobilenet_v2', 300e6, 3.5e6),  # MobileNetV2 paper: 300M MAdds, 3.4M-3.5M params
    ('resnet18', 1.8e9, None),
    ('resnet50', 4.1e9, None),
])
def test_paper_figures_at_224(spec, madds, params):
    ours_madds, ours_params = _classifier_madds(spec)
    assert abs(ours_madds - madds) / madds < 0.01, format_count(ours_madds)
    if params is not None:
        assert abs(ours_params - params) / params < 0.01, format_count(ours_params)
    # and the counted torchvision model agrees exactly with the analytic count
    import torchvision
    tv = getattr(torchvision.models, spec)()
    counted = count_model(tv, torch.zeros(1, 3, 224, 224))
    assert counted.madds == ours_madds and counted.params == ours_params


def test_hand_computed_block():
    """k5e6 MBConv, 24 -> 32 channels, stride 2, on a 10x14 input (so a 5x7 output)."""
    spec = load_spec('mobilenet_v2').to_dict()
    spec['stages'][2]['blocks'][0] = 'k5e6'
    cost = spec_cost(spec, (40, 56))
    layer = [lc for lc in cost.layers if (lc.info.stage, lc.info.layer) == (2, 0)][0]
    assert layer.in_hw == (10, 14)
    expand = 10 * 14 * 24 * 144
    depthwise = 5 * 7 * 144 * 25
    project = 5 * 7 * 144 * 32
    assert layer.madds == [expand + depthwise + project]
    assert layer.params == [24 * 144 + 2 * 144 + 144 * 25 + 2 * 144 + 144 * 32 + 2 * 32]
    assert conv_madds(64, 64, 7, (3, 3), groups=8) == 9 * 64 * 8 * 49


@pytest.mark.parametrize('name', [n for n in builtin_specs() if not n.startswith('fna_')])
def test_analytic_count_equals_counted_model(name):
    hw = (97, 131)  # odd sizes exercise the rounding of strided convs
    model = _derived(name).eval()
    counted = count_model(model, torch.zeros(1, 3, *hw))
    cost = spec_cost(name, hw)
    assert (cost.madds, cost.params) == (counted.madds, counted.params)


@pytest.mark.parametrize('name,out_indices', [('fna_mbv2_det', (2, 4, 6)), ('fna_mbv2_seg_os8', (1, 2, 4, 6)),
                                              ('fna_mbv2_pose', (7, )), ('fna_resnet18', (0, 1, 2, 3)),
                                              ('fna_fbnet_c', (7, ))])
def test_lookup_table_and_expected_cost(name, out_indices):
    hw = (72, 88)
    sup = _super(name, out_indices=out_indices, input_size=hw).eval()
    cost = sup.cost()
    table = cost.table()
    assert len(table) == sup.num_search_layers
    # every entry of the table is the counted cost of that candidate at its real input: in mixture
    # mode each candidate runs once on the layer's input
    sup.set_mode('mixture')
    counted = count_model(sup, torch.zeros(1, 3, *hw))
    per_candidate = {}
    for module, (m, _) in counted.modules.items():
        parts = module.split('.')
        if parts[0] == 'stages' and 'candidates' in parts:
            key = (int(parts[1]), int(parts[2]), int(parts[4]))
            per_candidate[key] = per_candidate.get(key, 0) + m
    for lc in table:
        for c, m in enumerate(lc.madds):
            assert per_candidate.get((lc.info.stage, lc.info.layer, c), 0) == m, (lc.info, c)
    # one-hot architecture parameters: Eq. 9 equals the counted cost of the derived network
    rng = random.Random(0)
    for _ in range(3):
        path = [rng.randrange(len(lc.madds)) for lc in table]
        with torch.no_grad():
            for a, c in zip(sup.arch_params, path):
                a.fill_(-1e4)
                a[c] = 0.0
        derived = _derived(sup.path_spec(path), out_indices=out_indices)
        n = count_model(derived, torch.zeros(1, 3, *hw))
        assert n.madds == cost.path_madds(path) and n.params == cost.path_params(path)
        assert sup.expected_madds().item() == pytest.approx(n.madds, rel=1e-6)


def test_expected_cost_gradient():
    """d E[cost] / d alpha_o = p_o (cost_o - E_l[cost]) for each layer (uniform p here)."""
    sup = SuperResNet(spec='fna_resnet18', out_indices=(0, ), input_size=(64, 64))
    e = sup.expected_madds()
    e.backward()
    lc = sup.cost().table()[0]
    costs = torch.tensor(lc.madds, dtype=torch.float64)
    expected_grad = (costs - costs.mean()) / len(costs)
    torch.testing.assert_close(sup.arch_params[0].grad.double(), expected_grad, rtol=1e-5, atol=1.0)
    # uniform probabilities: the mean of the candidates plus the fixed part
    fixed = sup.cost().fixed_madds
    assert e.item() == pytest.approx(fixed + sum(sum(t.madds) / len(t.madds) for t in sup.cost().table()), rel=1e-6)
    with pytest.raises(ValueError, match='got 1 probability vectors for 2 searchable layers'):
        expected_madds(sup.cost(), [torch.ones(5)])


def _mmengine_conv_linear(model, x):
    from mmengine.analysis import FlopAnalyzer
    from mmengine.analysis.complexity_analysis import _DEFAULT_SUPPORTED_FLOP_OPS as ops
    analyzer = FlopAnalyzer(model, x)
    analyzer.clear_op_handles()
    analyzer.set_op_handle(**{k: ops[k] for k in ('aten::_convolution', 'aten::addmm', 'aten::linear',
                                                  'aten::matmul', 'aten::mm')})
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total()


@pytest.mark.parametrize('make', [
    lambda: DerivedMobileNetV2(),  # depthwise convolutions
    lambda: DerivedResNet(spec=path_spec(load_spec('fna_resnet18'), [4, 3, 2, 1, 0, 1, 2, 3])),  # grouped
    lambda: DerivedResNet(spec=path_spec(load_spec('fna_resnet50'), [4, 2, 1] + [3] * 13)),
    lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1),
                          nn.ConvTranspose2d(4, 4, 3, groups=2), nn.Flatten(), nn.Linear(4 * 34 * 34, 10)),
])
def test_agrees_with_mmengine_counter(make):
    model = make().eval()
    x = torch.zeros(1, 3, 16, 16) if isinstance(model, nn.Sequential) else torch.zeros(1, 3, 96, 128)
    ours = count_model(model, x).madds
    theirs = _mmengine_conv_linear(model, x)
    assert ours == theirs


@pytest.mark.parametrize('config,spec,out_indices', [
    ('retinanet_mbv2_shapes', 'mobilenet_v2', (2, 4, 6)),
    ('ssdlite_mbv2_shapes', 'mobilenet_v2', (4, 7)),
    ('deeplabv3_mbv2_shapes', 'mobilenet_v2_os8', (1, 2, 4, 6)),
    ('simplebaseline_mbv2_shapes', 'mobilenet_v2', (7, )),
    ('mobilenetv2_shapes_cls', 'mobilenet_v2', (7, )),
])
def test_whole_model_count_matches_backbone_spec(in_root, config, spec, out_indices):
    """Detector, segmentor, pose model and classifier: the backbone part equals the spec's count."""
    from mmadapt.cost.config_cost import count_config
    result = count_config(osp.join(ROOT, f'configs/baselines/{config}.py'), (128, 160))
    cost = spec_cost(spec, (128, 160), out_indices=out_indices)
    assert (result.backbone_madds, result.backbone_params) == (cost.madds, cost.params)
    assert result.model.madds > result.backbone_madds  # neck and head counted too
    assert sum(m for m, _ in result.model.grouped(1).values()) == result.model.madds
    assert sum(p for _, p in result.model.grouped(1).values()) == result.model.params


CLASSIFIER_CFG = """
_base_ = '{root}/configs/baselines/mobilenetv2_shapes_cls.py'
model = dict(backbone=dict(spec='{spec}'), head=dict(num_classes=1000, in_channels={width}))
"""


def test_count_cost_tool(tmp_path):
    cfg = tmp_path / 'mbv2_in1k.py'
    cfg.write_text(CLASSIFIER_CFG.format(root=ROOT, spec='mobilenet_v2', width=1280))
    tool = osp.join(ROOT, 'tools/analysis/count_cost.py')
    out = subprocess.run([sys.executable, tool, str(cfg), '--shape', '224', '224', '--breakdown', '2'],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert 'MAdds: 300.8M' in lines and 'Params: 3.50M' in lines, out
    assert any(line.startswith('backbone.stages') for line in lines)
    sup = tmp_path / 'super.py'
    sup.write_text(CLASSIFIER_CFG.format(root=ROOT, spec='fna_mbv2_det', width=1280)
                   + "model['backbone']['type'] = 'mmadapt.SuperMobileNetV2'\n")
    out = subprocess.run([sys.executable, tool, str(sup), '--shape', '64'], capture_output=True, text=True,
                         check=True).stdout
    assert 'Backbone is a super-net' in out and 'expected backbone MAdds (Eq. 9)' in out
    bad = subprocess.run([sys.executable, tool, str(tmp_path / 'missing.py')], capture_output=True, text=True)
    assert bad.returncode != 0 and 'does not exist' in bad.stderr
