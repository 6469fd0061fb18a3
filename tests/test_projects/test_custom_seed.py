"""projects/custom_seed: a user's own seed backbone (ToyNet) with its adapter, adapted for FCOS."""
import json
import os
import os.path as osp
import subprocess

import torch

from ..conftest import ROOT, data_options, python, tool
from ..test_remap.test_network import randomise_bn

FCOS = osp.join(ROOT, 'projects/custom_seed/configs/fcos_toynet_fna_shapes.py')
SPEC = osp.join(ROOT, 'projects/custom_seed/specs/toynet.yaml')


def _toynet():
    from projects.custom_seed.toynet import ToyNet
    torch.manual_seed(0)
    return randomise_bn(ToyNet(), seed=1)


def test_adapter_renames_toynet_exactly(in_root):
    from mmadapt.models import DerivedMobileNetV2
    from mmadapt.remap import convert_seed, seed_template
    net = _toynet()
    state = {f'backbone.{k}': v for k, v in net.state_dict().items()}  # as a classifier checkpoint holds it
    state['head.fc.weight'] = torch.zeros(4, 640)
    ours, report = convert_seed(state, SPEC, seed_template(SPEC))
    assert report.format == 'toynet' and report.prefix == 'backbone.'
    assert report.missing == [] and report.unused == ['head.fc.weight']
    derived = DerivedMobileNetV2(spec=SPEC)
    derived.load_state_dict(ours, strict=True)
    x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(derived.double().eval()(x)[0], net.double()(x)[0])


def test_fcos_pipeline_with_the_custom_seed(shapes_root, tmp_path, in_root):
    net = _toynet()
    seed = tmp_path / 'toynet_seed.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in net.state_dict().items()}}, seed)
    opts = {**data_options(shapes_root / 'det', 'fcos_toynet'), 'log_level': 'INFO',  # the test reads the log
            'fna.seed.checkpoint': str(seed), 'train_cfg.max_epochs': 2, 'train_cfg.warmup_epochs': 1,
            'train_cfg.val_interval': 2, 'fna.param.train_cfg.max_epochs': 1, 'fna.param.train_cfg.val_interval': 1,
            'model.test_cfg.score_thr': 0.0}
    ann = shapes_root / 'det' / 'annotations' / 'val.json'
    opts['val_evaluator.ann_file'] = str(ann)
    opts['test_evaluator.ann_file'] = str(ann)
    work = tmp_path / 'fcos'
    proc = subprocess.run([python(), tool('train.py'), FCOS, '--work-dir', str(work), '--cfg-options'] +
                          [f'{k}={v}' for k, v in opts.items()], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS='ignore'))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert "seed format 'toynet' (prefix 'backbone.')" in log
    summary = json.loads((work / 'summary.json').read_text())
    adapted = summary['networks']['adapted']
    assert adapted['init'] == 'super' and 'coco/bbox_mAP' in adapted['metrics']
    assert summary['derived_spec'].startswith('stem c16 s2')
