"""DS-Net deployment: the grouped run in pieces (trunk, gate, route) equals the grouped run; a tiny
DS-Net classifier exported as a gate graph + route graphs: the route graphs match the static routes
in PyTorch, the ONNX Runtime runtime picks the same routes and gives the same scores as the PyTorch
dynamic model, latency figures per route; several gates refused; a failed check leaves nothing."""
import json
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn

from mmadapt.registry import MODELS
from ..conftest import ROOT
from ..test_dsnet.test_dynamic import grouped_run_of_mixed_routes, mbv1_ds, mbv2_ds, randomise, resnet_ds

BASE = osp.join(ROOT, 'configs', 'dsnet', 'dsmbnet_l_shapes.py')
TINY = dict(name='t_ds', family='mbv1', act='relu', stem=dict(out_channels=8, kernel=3, stride=2),
            stages=[dict(out_channels=16, stride=1, blocks=['k3']), dict(out_channels=16, stride=2, blocks=['k3']),
                    dict(out_channels=24, stride=2, blocks=['k3']),
                    dict(out_channels=48, stride=2, blocks=['k3', 'k3']),
                    dict(out_channels=64, stride=1, blocks=['k3'])])
CONFIG = '''
_base_ = {base!r}
data_root = {root!r}
train_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
log_level = 'WARNING'
model = dict(backbone=dict(_delete_=True, type='mmadapt.DSBackbone',
                           net=dict(type='mmadapt.ElasticMobileNetV1', spec={spec!r}, out_indices={out!r}, {norm}),
                           gates={gates!r}, attention='all'),
             head=dict(in_channels={head}))
'''
ONE_GATE = [dict(stages=[3, 4], widths=[[16, 32, 48], [16, 40, 64]])]


def write_config(path, root, gates=ONE_GATE, out=(4, ), norm='', head=64):
    path.write_text(CONFIG.format(base=BASE, root=root, spec=TINY, out=out, gates=gates, norm=norm, head=head))
    return str(path)


@pytest.mark.parametrize('build', [mbv1_ds, mbv2_ds, resnet_ds], ids=['mbv1_bn', 'mbv2_bn', 'resnet_gn_two_gates'])
def test_trunk_gate_route_equal_the_grouped_run(build):
    """forward_trunk -> gate_choice_logits -> forward_route_from (at each image's route) is what the
    grouped evaluation run computes, for a batch of mixed routes."""
    model, x, grouped, choices = grouped_run_of_mixed_routes(build)
    with torch.no_grad():
        y, trunk_outs = model.forward_trunk(x)
        logits = model.gate_choice_logits(y)
        assert logits.shape == (12, model.num_choices[0])
        assert torch.equal(logits.argmax(1), choices[:, 0])
        for route in {tuple(c) for c in choices.tolist()}:
            rows = (choices == torch.tensor(route)).all(1).nonzero()[:, 0]
            outs = model.forward_route_from(y[rows], [t[rows] for t in trunk_outs], route)
            assert len(outs) == len(grouped)
            for a, b in zip(outs, grouped):
                torch.testing.assert_close(a, b[rows], rtol=0, atol=1e-5)
        # the pieces leave the grouped run as it was
        again = model(x)
        assert torch.equal(model.last_choices, choices)
        for a, b in zip(again, grouped):
            assert torch.equal(a, b)


# -- the export -----------------------------------------------------------------------------------------
def randomise_classifier(model, seed=0):
    """Random BN statistics (per route too), attention and head weights, and a sharp gate."""
    randomise(model.backbone, seed, gate_std=30.0)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.head.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return model


def preprocessed_images(cfg, model, num):
    """The first ``num`` test images, preprocessed as the test pipeline and the model do."""
    import mmcv

    from mmadapt.deploy.export import check_images
    paths = check_images(cfg, None, num)
    imgs = [torch.from_numpy(mmcv.imread(p)).permute(2, 0, 1).contiguous() for p in paths]
    return model.data_preprocessor(dict(inputs=imgs), False)['inputs']


def build_checkpoint(config, path, num=12):
    """A checkpoint of random weights whose gate spreads the first ``num`` test images over its routes."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmadapt.methods.dsnet import spread_routes
    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    model_cfg = cfg.model.copy()
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))  # as the runner builds it
    torch.manual_seed(0)  # the conv weights too: the spread must not depend on which tests ran before
    model = randomise_classifier(MODELS.build(model_cfg)).eval()
    with torch.no_grad():
        spread_routes(model.backbone, preprocessed_images(cfg, model, num))
    model.eval()
    model.backbone.set_route('max')
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


@pytest.fixture(scope='module')
def exported(data32, tmp_path_factory):
    pytest.importorskip('mmdeploy')
    from mmadapt.deploy.dsnet import export_dsnet
    root = tmp_path_factory.mktemp('dsnet_export')
    config = write_config(root / 'tiny_ds.py', data32)
    ckpt = build_checkpoint(config, root / 'tiny_ds.pth')
    out = root / 'onnx'
    report = export_dsnet(config, ckpt, str(out), num_images=12)
    return dict(config=config, ckpt=ckpt, out=out, report=report, root=root)


def test_export_routes_and_runtime_match_pytorch(exported):
    from mmdeploy.apis.utils import build_task_processor
    from mmengine.config import Config

    from mmadapt.deploy.dsnet import DSNetRuntime
    out, report = exported['out'], exported['report']
    assert json.loads((out / 'dsnet.json').read_text())['passed'] is True
    assert report['passed'] and set(report['routes']) == {'0', '1', '2'}
    assert (out / 'gate' / 'gate.onnx').is_file()
    for k in range(3):
        route = json.loads((out / f'route_{k}' / 'deploy.json').read_text())
        assert route['passed'] and route['onnx'] == str(out / f'route_{k}' / 'end2end.onnx')
        assert (out / f'route_{k}' / 'subnet.pth').is_file()
    madds = [report['routes'][str(k)]['madds'] for k in range(3)]
    assert madds == sorted(madds) and madds[0] < madds[2] and report['trunk_madds'] < madds[0]
    checks = report['checks']
    assert len(checks) == 12 and all(c['ok'] and c['same_route'] for c in checks)
    assert len({c['route_pytorch'] for c in checks}) >= 2, 'the test needs images on several routes'
    assert max(c['max_score_diff'] for c in checks) <= 1e-4
    assert abs(sum(report['route_share'].values()) - 1) < 1e-9
    assert all(r['ok'] for r in report['route_checks'].values())

    # independently: the route graphs against the DS model's static routes, the runtime against the
    # dynamic model in grouped evaluation mode
    tp = build_task_processor(Config.fromfile(str(out / 'model_cfg.py')), Config.fromfile(str(out / 'deploy_cfg.py')),
                              'cpu')
    model = tp.build_pytorch_model(exported['ckpt']).eval()
    _, x = tp.create_input(report['images'], None, data_preprocessor=model.data_preprocessor)
    runtime = DSNetRuntime(str(out))
    with torch.no_grad():
        for k in range(3):
            model.backbone.set_route((k, ))
            static = model(x, mode='tensor').softmax(1).numpy()
            ort = [runtime.route_scores(k, x[i:i + 1].numpy())[0] for i in range(len(x))]
            assert abs(static - ort).max() <= 1e-4
        model.backbone.set_dynamic()
        dynamic = model(x, mode='tensor').softmax(1).numpy()
        choices, scores = runtime(x)
    assert choices.tolist() == model.backbone.last_choices[:, 0].tolist()
    assert abs(dynamic - scores).max() <= 1e-4


def test_latency_per_route_is_written(exported):
    from mmadapt.deploy.dsnet import latency_dsnet
    out = exported['out']
    latency = latency_dsnet(str(out), threads=1, warmup=1, repeats=3)
    saved = json.loads((out / 'dsnet.json').read_text())['latency']
    assert saved['threads'] == 1 and saved['repeats'] == 3
    assert set(saved['routes']) == {'0', '1', '2'} == set(latency['routes'])
    for r in saved['routes'].values():
        assert r['onnxruntime']['median_ms'] > 0 and r['pytorch']['median_ms'] > 0
        assert r['trunk_share_pytorch'] > 0 and r['gate_share_onnxruntime'] > 0
    assert saved['gate']['onnxruntime']['median_ms'] > 0 and saved['trunk']['pytorch']['median_ms'] > 0
    assert saved['runtime_expected_ms'] > saved['gate']['onnxruntime']['median_ms']


def test_tools_deploy_dsnet_prints_the_routes(exported, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('deploy_tool', osp.join(ROOT, 'tools', 'deploy.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = exported['root'] / 'tool_out'
    tool.main([exported['config'], exported['ckpt'], '--out', str(out), '--dsnet', '--num-images', '4',
               '--latency'])
    text = capsys.readouterr().out
    assert 'route 0' in text and 'route 2' in text and 'gate' in text and 'ms' in text
    assert json.loads((out / 'dsnet.json').read_text())['latency']['routes']['1']['onnxruntime']['median_ms'] > 0


def test_several_gates_and_a_failed_check_write_nothing(exported, data32, tmp_path):
    pytest.importorskip('mmdeploy')
    from mmadapt.deploy import DeployError
    from mmadapt.deploy.dsnet import export_dsnet
    two = write_config(tmp_path / 'two_gates.py', data32,
                       gates=[dict(stages=[3], ratios=[0.5, 1.0]), dict(stages=[4], ratios=[0.5, 1.0])],
                       norm="norm_cfg=dict(type='GN', num_groups=4)")
    with pytest.raises(DeployError, match=r'has 2 gates; only single-gate DS-Nets export'):
        export_dsnet(two, None, str(tmp_path / 'two'))
    assert os.listdir(tmp_path) == ['two_gates.py']
    # a check that cannot pass (negative tolerance): an error naming the mismatch, nothing written
    with pytest.raises(DeployError, match='does not match PyTorch'):
        export_dsnet(exported['config'], exported['ckpt'], str(tmp_path / 'bad'), num_images=2,
                     tolerances=dict(gate_logit=-1.0))
    assert sorted(os.listdir(tmp_path)) == ['two_gates.py']
