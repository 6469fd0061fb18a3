"""tools/export_subnet.py: a sub-network of an elastic model checkpoint as a derived spec + checkpoint."""
import os
import os.path as osp

import pytest
import torch

from mmadapt.arch import ElasticSpace, dump_spec, load_spec

from ..conftest import ROOT, randomize_bn

CONFIG = osp.join(ROOT, 'configs/elastic/mobilenetv2_shapes_cls_elastic.py')


@pytest.fixture(scope='module')
def model_and_checkpoint(tmp_path_factory):
    from mmadapt.cost.config_cost import build_model_from_config
    torch.manual_seed(0)
    model = randomize_bn(build_model_from_config(CONFIG), affine=True)
    path = tmp_path_factory.mktemp('ckpt') / 'elastic.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return model.eval(), path


def test_export_writes_a_derived_network_that_computes_the_subnet(model_and_checkpoint, tmp_path, capsys):
    from tools.export_subnet import main
    from mmadapt.registry import MODELS
    model, ckpt = model_and_checkpoint
    sub = ElasticSpace(model.backbone.spec, (0.5, 0.75, 1.0), depths=1, kernels=(3, )).sample(
        torch.Generator().manual_seed(0))
    sub_file = tmp_path / 'sub.yaml'
    dump_spec(sub, str(sub_file))
    out = tmp_path / 'exported'
    main([CONFIG, str(ckpt), '--subnet', str(sub_file), '--out', str(out)])
    assert 'written' in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ['config.py', 'subnet.pth', 'subnet.yaml']
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []  # no temporary folder left
    spec = load_spec(str(out / 'subnet.yaml'))
    saved = torch.load(out / 'subnet.pth', weights_only=True)
    derived = MODELS.build(dict(saved['meta']['derived_backbone'], spec=spec.to_dict(), init_cfg=[]))
    state = {k[len('backbone.'):]: v for k, v in saved['state_dict'].items() if k.startswith('backbone.')}
    derived.load_state_dict(state, strict=True)
    assert any(k.startswith('head.') for k in saved['state_dict'])  # the classifier travels beside it
    derived.eval()
    model.backbone.set_subnet(spec)
    model.backbone.pad_outputs = False
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.backbone(x)[0], derived(x)[0], atol=1e-5)
    # config.py is the whole model with the derived backbone: it loads subnet.pth strictly
    from mmadapt.cost.config_cost import build_model_from_config
    whole = build_model_from_config(str(out / 'config.py'))
    whole.load_state_dict(saved['state_dict'], strict=True)
    with torch.no_grad():
        assert torch.allclose(whole.eval()(x), model(x), atol=1e-5)
    model.backbone.set_subnet(None)
    model.backbone.pad_outputs = True


def test_export_refuses_bad_input_and_leaves_nothing(model_and_checkpoint, tmp_path, monkeypatch):
    from tools import export_subnet
    _, ckpt = model_and_checkpoint
    out = tmp_path / 'out'
    bad = tmp_path / 'wide.yaml'
    d = load_spec('mobilenet_v2').to_dict()
    d['stages'][3]['blocks'][1] = 'k3e6_h999'
    import yaml
    bad.write_text(yaml.safe_dump(d))
    with pytest.raises(SystemExit, match='stage 3 layer 1: hidden width 999 is wider than the max 384'):
        export_subnet.main([CONFIG, str(ckpt), '--subnet', str(bad), '--out', str(out)])
    wrong = tmp_path / 'wrong.pth'
    torch.save(dict(state_dict={'backbone.stem.conv.weight': torch.zeros(8, 3, 3, 3)}), wrong)
    with pytest.raises(SystemExit, match='does not fit the elastic backbone'):
        export_subnet.main([CONFIG, str(wrong), '--subnet', 'max', '--out', str(out)])
    # a failure while writing (disk full, a kill) leaves neither the folder nor a temporary one
    monkeypatch.setattr(torch, 'save', lambda *a, **k: (_ for _ in ()).throw(OSError('disk full')))
    with pytest.raises(OSError, match='disk full'):
        export_subnet.main([CONFIG, str(ckpt), '--subnet', 'max', '--out', str(out)])
    assert os.listdir(tmp_path) == sorted(os.listdir(tmp_path)) and not out.exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []


def test_count_cost_counts_the_active_subnet_of_an_elastic_backbone(model_and_checkpoint):
    """The hook counter cannot see an elastic backbone's functional convs; the config counter adds its
    active sub-network from the spec instead of reporting 0."""
    from mmadapt.cost import spec_cost
    from mmadapt.cost.config_cost import count_config
    model, _ = model_and_checkpoint
    full = count_config(CONFIG, (64, 64), model=model)
    assert full.backbone_madds == spec_cost('mobilenet_v2', (64, 64)).madds
    sub = ElasticSpace(model.backbone.spec, (0.5, 1.0), depths=2).min()
    model.backbone.set_subnet(sub)
    try:
        small = count_config(CONFIG, (64, 64), model=model)
    finally:
        model.backbone.set_subnet(None)
    assert small.backbone_madds == spec_cost(sub, (64, 64)).madds < full.backbone_madds
    assert full.model.madds - full.backbone_madds == small.model.madds - small.backbone_madds  # the head
