"""Bad files in, clear errors out: every file mmadapt reads says which file and what is wrong (issue 18)."""
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch

from mmadapt.arch import SpecError, load_spec
from mmadapt.models.backbones import DerivedMobileNetV2
from mmadapt.models.checkpoint import remap_checkpoint
from mmadapt.remap.init import RemapInit as Remap
from mmadapt.utils.checkpoint import CheckpointError
from mmadapt.utils.data_check import DataFileError, check_data

from ..conftest import ROOT, data_options

DET = osp.join(ROOT, 'configs/baselines/retinanet_mbv2_shapes.py')


def _seed(tmp_path, poison):
    net = DerivedMobileNetV2('mobilenet_v2')
    state = net.state_dict()
    if poison == 'nan':
        state = {k: torch.full_like(v, float('nan')) if v.is_floating_point() else v for k, v in state.items()}
    elif poison == 'inf':
        state = dict(state)
        key = next(k for k in state if k.endswith('running_var'))
        state[key] = state[key].clone().fill_(float('inf'))
    path = str(tmp_path / f'seed_{poison}.pth')
    torch.save(state, path)
    return path


@pytest.mark.parametrize('poison', ['nan', 'inf'])
def test_a_seed_with_nan_or_inf_weights_is_refused_not_remapped(tmp_path, poison):
    path = _seed(tmp_path, poison)
    with pytest.raises(CheckpointError, match='NaN or Inf') as err:
        remap_checkpoint(path, 'mobilenet_v2', 'proxyless_mobile', source='seed')
    assert path in str(err.value)
    net = DerivedMobileNetV2('proxyless_mobile')
    with pytest.raises(CheckpointError, match='NaN or Inf') as err:
        Remap(checkpoint=path, source='seed', source_spec='mobilenet_v2')(net)
    assert path in str(err.value)
    # a finite seed of the same shape is remapped
    remap_checkpoint(_seed(tmp_path, 'none'), 'mobilenet_v2', 'proxyless_mobile', source='seed')


def test_a_corrupt_spec_file_is_named(tmp_path):
    for name, text in (('cut.yaml', 'family: mbv2\nstages: [[k3e6, k3'), ('empty.json', '')):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(SpecError) as err:
            load_spec(str(path))
        assert str(path) in str(err.value)


def _det_cfg(shapes_root):
    from mmengine.config import Config
    cfg = Config.fromfile(DET)
    cfg.merge_from_dict(data_options(shapes_root / 'det', 'bad_ann'))
    return cfg


@pytest.mark.parametrize('damage', ['empty', 'truncated', 'not json'])
def test_a_damaged_annotation_file_is_named_before_the_run(shapes_root, tmp_path, damage):
    import shutil
    data = tmp_path / 'det'
    shutil.copytree(shapes_root / 'det', data)
    cfg = _det_cfg(shapes_root)
    from mmadapt.utils import data_root_options
    cfg.merge_from_dict(data_root_options(str(data)))
    val_ann = str(data / 'annotations' / 'val.json')
    cfg.merge_from_dict({'val_evaluator.ann_file': val_ann, 'test_evaluator.ann_file': val_ann})
    check_data(cfg)  # intact
    ann = cfg.train_dataloader.dataset.ann_file
    ann = ann if osp.isabs(ann) else osp.join(cfg.train_dataloader.dataset.data_root, ann)
    text = open(ann, encoding='utf-8').read()
    open(ann, 'w', encoding='utf-8').write({'empty': '', 'truncated': text[:len(text) // 2],
                                            'not json': 'images: []'}[damage])
    with pytest.raises(DataFileError) as err:
        check_data(cfg)
    assert ann in str(err.value) and 'train_dataloader' in str(err.value)


def test_results_hook_keeps_an_unreadable_results_file_and_records_the_evaluation(tmp_path):
    from mmadapt.engine.hooks import ResultsHook
    (tmp_path / 'results.json').write_text('{"val": [{"epoch": 1')  # cut off by a kill
    logged = []
    runner = SimpleNamespace(work_dir=str(tmp_path), epoch=2, iter=8, cfg=SimpleNamespace(filename='c.py'),
                             logger=SimpleNamespace(warning=logged.append, info=lambda m: None))
    ResultsHook().after_val_epoch(runner, {'acc': 0.5})
    res = json.loads((tmp_path / 'results.json').read_text())
    assert res['val'] == [dict(epoch=2, iter=8, metrics={'acc': 0.5})]
    kept = [p for p in tmp_path.iterdir() if p.name.startswith('results.json.corrupt-')]
    assert len(kept) == 1 and kept[0].read_text() == '{"val": [{"epoch": 1'
    assert 'unreadable' in logged[0] and str(kept[0]) in logged[0]


def test_results_record_the_weights_that_were_tested(tmp_path):
    """Trained and tested in one process (the FNA++ pipeline): the trained weights, not the initialisation
    that ``load_from`` names; a test-only run: the loaded checkpoint."""
    from mmadapt.engine.hooks import ResultsHook

    class Hub:
        def __init__(self, info):
            self.info = info

        def get_info(self, key):
            return self.info.get(key)
    quiet = SimpleNamespace(warning=print, info=lambda m: None)
    trained = SimpleNamespace(work_dir=str(tmp_path), iter=40, logger=quiet, message_hub=Hub({'last_ckpt': 'e12.pth'}),
                              cfg=SimpleNamespace(filename='c.py', get=lambda k, d=None: 'init.pth'))
    ResultsHook().after_test_epoch(trained, {'mAP': 0.3})
    assert json.loads((tmp_path / 'results.json').read_text())['test']['checkpoint'] == 'e12.pth'
    tested = SimpleNamespace(work_dir=str(tmp_path), iter=0, logger=quiet, message_hub=Hub({}),
                             cfg=SimpleNamespace(filename='c.py', get=lambda k, d=None: 'given.pth'))
    ResultsHook().after_test_epoch(tested, {'mAP': 0.3})
    assert json.loads((tmp_path / 'results.json').read_text())['test']['checkpoint'] == 'given.pth'
