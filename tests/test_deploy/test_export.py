"""ONNX export through mmdeploy (tools/deploy.py): the derived RetinaNet, SSDLite, DeepLabv3,
SimpleBaseline and classifier of the shapes configs run in ONNX Runtime and match PyTorch on
generated images; bad input gets a clear error and leaves nothing written; an elastic sub-network's
export computes what the elastic network computes at that sub-network."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

pytest.importorskip('mmdeploy', reason='the deployment extra (make install-deploy) is not installed')

from mmadapt.deploy import DeployError, compare_results, export_onnx, match_detections  # noqa: E402

from ..conftest import ROOT, data_options, randomize_bn  # noqa: E402

# config -> (shapes data set, task, export options)
CASES = {
    'retinanet_mbv2_shapes': ('det', 'detection', {}),
    'ssdlite_mbv2_shapes': ('det', 'detection', {}),
    'deeplabv3_mbv2_shapes': ('seg', 'segmentation', dict(shape=(128, 128))),
    'simplebaseline_mbv2_shapes': ('pose', 'pose-detection', {}),
    'mobilenetv2_shapes_cls': ('cls', 'classification', {}),
}


def _config(name, shapes_root):
    data, _, _ = CASES[name]
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'baselines', f'{name}.py'))
    opts = data_options(shapes_root / data, name)
    if name == 'ssdlite_mbv2_shapes':
        opts['train_dataloader.dataset.dataset.data_root'] = opts.pop('train_dataloader.dataset.data_root')
    cfg.merge_from_dict(opts)
    return cfg


def _checkpoint(cfg, path, seed=0):
    """Weights that give non-trivial outputs: BN statistics and affine parameters drawn at random, and
    for detectors classification layers that score anchors between about 0.1 and 0.9 (a fresh
    RetinaNet scores every anchor 0.01, below the score threshold: nothing to compare)."""
    from mmadapt.cost.config_cost import build_model_from_config
    torch.manual_seed(seed)
    model = build_model_from_config(cfg)
    model.init_weights()
    randomize_bn(model, 0.2, affine=True)
    head = getattr(model, 'bbox_head', None)
    if head is not None:
        for name, p in head.named_parameters():
            if 'cls' in name:
                p.data.normal_(0, 0.05 if p.dim() > 1 else 0.5)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


@pytest.fixture(scope='module')
def models(shapes_root, tmp_path_factory):
    """Every case's config file and checkpoint: name -> (config path, checkpoint)."""
    root = tmp_path_factory.mktemp('deploy')
    out = {}
    for name in CASES:
        cfg = _config(name, shapes_root)
        cfg_path = str(root / f'{name}.py')
        cfg.dump(cfg_path)
        out[name] = (cfg_path, _checkpoint(cfg, str(root / f'{name}.pth')))
    return out


@pytest.mark.parametrize('name', list(CASES))
def test_export_runs_in_onnxruntime_and_matches_pytorch(models, name, tmp_path, capsys):
    from tools.deploy import main
    _, task, opts = CASES[name]
    cfg_path, ckpt = models[name]
    folder = str(tmp_path / name)
    report = main([cfg_path, ckpt, '--out', folder, '--num-images', '2']
                  + (['--shape', *map(str, opts['shape'])] if 'shape' in opts else []))
    printed = capsys.readouterr().out
    assert printed.count('match on') == 2 and 'MISMATCH' not in printed and 'end2end.onnx' in printed
    assert sorted(os.listdir(folder)) == ['deploy.json', 'deploy_cfg.py', 'end2end.onnx', 'model_cfg.py']
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []  # no temporary folder left
    assert json.loads(open(osp.join(folder, 'deploy.json')).read()) == json.loads(json.dumps(report, default=str))
    assert report['task'] == task and report['passed'] and len(report['checks']) == 2
    assert report['dynamic'] == (task == 'detection')  # dynamic shapes where the task needs them
    for c in report['checks']:
        assert c['ok'], c
        if task == 'detection':  # boxes after NMS, and enough of them that the match means something
            assert c['pytorch'] >= 20 and c['matched_share'] >= 0.95 and c['max_score_diff'] < 1e-3, c
        elif task == 'segmentation':
            assert c['max_logit_diff'] < 1e-3 * c['logit_scale'] and c['pixel_agreement'] >= 0.999, c
        elif task == 'pose-detection':
            assert c['max_heatmap_diff'] < 1e-4 and c['max_keypoint_diff'] < 0.05, c
        else:
            assert c['max_score_diff'] < 1e-4 and c['same_top1'], c
    import onnx
    graph = onnx.load(osp.join(folder, 'end2end.onnx')).graph
    ops = {n.op_type for n in graph.node}
    assert 'Conv' in ops
    if task == 'detection':
        assert 'NonMaxSuppression' in ops  # NMS is inside the graph (standard ONNX op)
    if task == 'classification':
        _scores_follow_the_checkpoint(cfg_path, ckpt, osp.join(folder, 'end2end.onnx'))


def _scores_follow_the_checkpoint(cfg_path, ckpt, onnx_path):
    """The classifier's ONNX scores are the checkpoint's network's on random inputs, not a fresh one's."""
    import onnxruntime as ort

    from mmadapt.cost.config_cost import build_model_from_config
    model = build_model_from_config(cfg_path)
    model.load_state_dict(torch.load(ckpt, weights_only=True)['state_dict'])
    x = torch.randn(1, 3, 64, 64)
    sess = ort.InferenceSession(onnx_path, providers=['CPUExecutionProvider'])
    got = sess.run(None, {'input': x.numpy()})[0]
    with torch.no_grad():
        want = torch.softmax(model.eval()(x), 1).numpy()
    assert np.abs(got - want).max() < 1e-5
    other = build_model_from_config(cfg_path).eval()
    with torch.no_grad():
        assert np.abs(got - torch.softmax(other(x), 1).numpy()).max() > 1e-3


def test_compare_results_catches_wrong_outputs():
    from mmengine.structures import InstanceData
    from mmpretrain.structures import DataSample
    a = DataSample().set_pred_score(torch.tensor([0.1, 0.2, 0.7])).set_pred_label(torch.tensor([2]))
    b = DataSample().set_pred_score(torch.tensor([0.1, 0.25, 0.65])).set_pred_label(torch.tensor([2]))
    assert compare_results('classification', a, a)['ok']
    r = compare_results('classification', a, b)
    assert not r['ok'] and abs(r['max_score_diff'] - 0.05) < 1e-6
    boxes = torch.tensor([[0., 0., 10., 10.], [20., 20., 40., 40.], [5., 5., 30., 30.]])
    det = InstanceData(bboxes=boxes, scores=torch.tensor([0.9, 0.8, 0.3]), labels=torch.tensor([0, 1, 0]))
    shifted = InstanceData(bboxes=boxes + torch.tensor([0., 0., 0., 3.]), scores=det.scores, labels=det.labels)
    relabelled = InstanceData(bboxes=boxes, scores=det.scores, labels=torch.tensor([0, 1, 1]))
    assert match_detections(det, det, 0.99)['matched'] == 3
    m = match_detections(det, shifted, 0.99)
    assert m['matched'] == 0  # IoU below 0.99 after a 3-pixel shift
    m = match_detections(det, relabelled, 0.99)
    assert m['matched'] == 2 and abs(m['matched_share'] - 2 / 3) < 1e-9


def test_bad_input_is_refused_and_leaves_nothing(models, tmp_path):
    from tools.deploy import main
    cfg_path, ckpt = models['retinanet_mbv2_shapes']
    _, cls_ckpt = models['mobilenetv2_shapes_cls']
    out = tmp_path / 'out'
    with pytest.raises(SystemExit, match='config .*nothing.py: no such file'):
        main([str(tmp_path / 'nothing.py'), ckpt, '--out', str(out)])
    with pytest.raises(SystemExit, match="does not fit this config's model.*another architecture"):
        main([cfg_path, cls_ckpt, '--out', str(out)])  # a classifier's checkpoint for a detector
    seg_deploy = osp.join(ROOT, 'configs', 'deploy', 'segmentation_onnxruntime_static.py')
    with pytest.raises(SystemExit, match="is for codebase 'mmseg', the model config's is 'mmdet'"):
        main([cfg_path, ckpt, '--out', str(out), '--deploy-cfg', seg_deploy])
    dataset_cfg = osp.join(ROOT, 'configs', '_base_', 'datasets', 'shapes_det.py')
    with pytest.raises(SystemExit, match='no model field'):
        main([dataset_cfg, ckpt, '--out', str(out)])
    assert os.listdir(tmp_path) == []  # neither the output nor a temporary folder


def test_a_failed_check_writes_nothing(models, tmp_path, monkeypatch):
    """A check that fails raises with the figures; an existing output folder keeps its old files and no
    temporary folder is left."""
    from mmadapt.deploy import export as export_mod
    cfg_path, ckpt = models['mobilenetv2_shapes_cls']
    monkeypatch.setattr(export_mod, 'compare_results', lambda task, pt, ort, tol=None: dict(max_score_diff=0.5,
                                                                                           ok=False))
    (tmp_path / 'out').mkdir()
    (tmp_path / 'out' / 'end2end.onnx').write_text('old')
    with pytest.raises(DeployError, match='does not match PyTorch on 1 of 1 images.*max_score_diff.*0.5.*nothing '
                                          'written'):
        export_onnx(cfg_path, ckpt, str(tmp_path / 'out'), num_images=1)
    assert os.listdir(tmp_path) == ['out'] and os.listdir(tmp_path / 'out') == ['end2end.onnx']
    assert (tmp_path / 'out' / 'end2end.onnx').read_text() == 'old'


def test_elastic_subnet_exports_as_its_derived_network(tmp_path, shapes_root):
    """tools/export_subnet.py's config.py + subnet.pth, exported to ONNX, computes what the elastic
    network computes at that sub-network."""
    import onnxruntime as ort

    from mmadapt.arch import ElasticSpace, dump_spec
    from mmadapt.cost.config_cost import build_model_from_config
    from mmadapt.models.subnet_export import export_subnet as export
    config = osp.join(ROOT, 'configs/elastic/mobilenetv2_shapes_cls_elastic.py')
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(data_options(shapes_root / 'cls', 'elastic'))
    cfg_path = str(tmp_path / 'elastic.py')
    cfg.dump(cfg_path)
    torch.manual_seed(0)
    model = randomize_bn(build_model_from_config(cfg_path))
    ckpt = str(tmp_path / 'elastic.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    sub = ElasticSpace(model.backbone.spec, (0.5, 0.75, 1.0), depths=1, kernels=(3, )).sample(
        torch.Generator().manual_seed(1))
    dump_spec(sub, str(tmp_path / 'sub.yaml'))
    export(cfg_path, ckpt, str(tmp_path / 'sub.yaml'), str(tmp_path / 'subnet'))
    report = export_onnx(str(tmp_path / 'subnet' / 'config.py'), str(tmp_path / 'subnet' / 'subnet.pth'),
                         str(tmp_path / 'onnx'), num_images=1)
    assert report['passed']
    model.eval().backbone.set_subnet(sub)
    model.backbone.pad_outputs = False
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        want = torch.softmax(model(x), 1).numpy()
    sess = ort.InferenceSession(str(tmp_path / 'onnx' / 'end2end.onnx'), providers=['CPUExecutionProvider'])
    got = np.concatenate([sess.run(None, {'input': x[i:i + 1].numpy()})[0] for i in range(2)])
    assert np.abs(got - want).max() < 1e-5
