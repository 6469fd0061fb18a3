"""Learning happens on the demo task: RetinaNet-MobileNetV2 trained briefly on shapes detection
beats the same model untrained, measured with COCO mAP on held-out images."""
import json
import os.path as osp

import pytest

from mmadapt.datasets import make_shapes
from mmadapt.engine import build_runner, prepare_config

from ..conftest import ROOT, data_options

CONFIG = osp.join(ROOT, 'configs/baselines/retinanet_mbv2_shapes.py')


@pytest.mark.slow
def test_retinanet_learns_shapes(tmp_path):
    data = tmp_path / 'det'
    make_shapes('det', str(data), num_train=240, num_val=40, size=128, seed=1)
    ann = str(data / 'annotations' / 'val.json')
    opts = data_options(data, 'learning')
    opts.update({'val_evaluator.ann_file': ann, 'test_evaluator.ann_file': ann,
                 'model.test_cfg.score_thr': 0.0, 'train_cfg.max_epochs': 14,
                 'train_cfg.val_interval': 14})

    untrained_cfg = prepare_config(CONFIG, work_dir=str(tmp_path / 'untrained'),
                                   cfg_options={**opts, 'experiment_name': 'learning_untrained'},
                                   stage='test')
    before = build_runner(untrained_cfg).test()

    cfg = prepare_config(CONFIG, work_dir=str(tmp_path / 'trained'), cfg_options=opts)
    build_runner(cfg).train()
    results = json.loads((tmp_path / 'trained' / 'results.json').read_text())
    after = results['val'][-1]['metrics']
    print('untrained: mAP {coco/bbox_mAP:.3f} AP50 {coco/bbox_mAP_50:.3f}'.format(**before))
    print('trained:   mAP {coco/bbox_mAP:.3f} AP50 {coco/bbox_mAP_50:.3f}'.format(**after))
    assert before['coco/bbox_mAP_50'] < 0.01
    assert after['coco/bbox_mAP_50'] > before['coco/bbox_mAP_50'] + 0.05
    assert after['coco/bbox_mAP'] > before['coco/bbox_mAP'] + 0.02
