"""Checkpoints: a kill at any moment of a save leaves something to resume; resume trusts only the work
dir's own files; a checkpoint of another architecture is refused by tools/test.py (issue 18)."""
import builtins
import json
import os
import os.path as osp
import shutil

import pytest
import torch

from mmadapt.engine import build_runner, prepare_config
from mmadapt.utils.checkpoint import CheckpointError, check_checkpoint_file, latest_checkpoint, \
    load_checkpoint_file

from ..conftest import ROOT, data_options

CLS = osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py')


class SimulatedKill(BaseException):
    """Stands for SIGKILL: nothing catches it (it is not an Exception)."""


def _options(shapes_root, epochs, **extra):
    opts = data_options(shapes_root / 'cls', 'ckpt')
    opts.update({'train_dataloader.batch_size': 8, 'train_cfg.max_epochs': epochs, 'train_cfg.val_interval': 1,
                 'param_scheduler': [], 'default_hooks.checkpoint.max_keep_ckpts': 1,
                 'train_dataloader.dataset.pipeline.1.prob': 0.0})
    opts.update(extra)
    return opts


def _train(shapes_root, work_dir, epochs, resume=None, **extra):
    cfg = prepare_config(CLS, work_dir=str(work_dir), cfg_options=_options(shapes_root, epochs, **extra),
                         resume=resume)
    runner = build_runner(cfg)
    runner.train()
    return runner


def _epoch(path):
    return load_checkpoint_file(path)['meta']['epoch']


def _kill_writing(monkeypatch, name):
    """Kill while ``name`` (or a temporary file for it) is being written: half the bytes reach the disk,
    and no clean-up runs (as with SIGKILL)."""
    real_open = builtins.open

    class Torn:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            self.f.write(data[:len(data) // 2])
            self.f.flush()
            raise SimulatedKill(name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(file, mode='r', *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if 'w' in mode and 'b' in mode and name in osp.basename(str(file)):
            return Torn(f)
        return f
    monkeypatch.setattr(builtins, 'open', fake_open)
    monkeypatch.setattr(os, 'remove', lambda p, _real=os.remove: None if '.tmp' in str(p) else _real(p))


def _kill_at(monkeypatch, func, name):
    """Kill when ``os.<func>`` is called on ``name``."""
    real = getattr(os, func)

    def fake(*args, **kwargs):
        if any(osp.basename(str(a)) == name for a in args[:2]):
            raise SimulatedKill(f'{func} {name}')
        return real(*args, **kwargs)
    monkeypatch.setattr(os, func, fake)


@pytest.mark.parametrize('moment', ['writing the new checkpoint', 'renaming it into place',
                                    'removing the old one'])
def test_kill_during_a_save_with_max_keep_ckpts_1_leaves_a_checkpoint_to_resume(
        shapes_root, tmp_path, monkeypatch, moment):
    wd = tmp_path / 'wd'
    _train(shapes_root, wd, 1)
    assert osp.isfile(wd / 'epoch_1.pth')
    assert (wd / 'last_checkpoint').read_text() == 'epoch_1.pth'  # relative: the work dir may move
    with monkeypatch.context() as m:
        if moment == 'writing the new checkpoint':
            _kill_writing(m, 'epoch_2.pth')
        elif moment == 'renaming it into place':
            _kill_at(m, 'replace', 'epoch_2.pth')
        else:
            _kill_at(m, 'remove', 'epoch_1.pth')
        with pytest.raises(SimulatedKill):
            _train(shapes_root, wd, 2, resume='auto')
    # every checkpoint in the work dir is complete, and resume finds one
    for name in os.listdir(wd):
        if name.endswith('.pth'):
            check_checkpoint_file(str(wd / name))
    last = latest_checkpoint(str(wd))
    assert last is not None and _epoch(last) == (2 if moment == 'removing the old one' else 1)
    runner = _train(shapes_root, wd, 3, resume='auto')
    assert runner.epoch == 3 and _epoch(wd / 'epoch_3.pth') == 3
    # max_keep_ckpts=1 honoured once the new checkpoint is complete; temporaries of the kill cleaned
    assert sorted(n for n in os.listdir(wd) if 'pth' in n) == ['epoch_3.pth']


def test_a_copied_work_dir_resumes_from_its_own_files_and_leaves_the_originals_alone(shapes_root, tmp_path):
    a, b = tmp_path / 'original', tmp_path / 'copy'
    _train(shapes_root, a, 1, **{'default_hooks.checkpoint.save_best': 'accuracy/top1'})
    shutil.copytree(a, b)
    best = [n for n in os.listdir(a) if n.startswith('best_')]
    assert len(best) == 1
    # as mmengine writes it: an absolute path, into the original work dir
    (b / 'last_checkpoint').write_text(str(a / 'epoch_1.pth'))
    assert latest_checkpoint(str(b)) == str(b / 'epoch_1.pth')
    before = {n: (a / n).read_bytes() for n in os.listdir(a) if n.endswith('.pth')}
    _train(shapes_root, b, 3, resume='auto', **{'default_hooks.checkpoint.save_best': 'accuracy/top1'})
    # the original is untouched: its checkpoints, its best checkpoint and its last_checkpoint
    assert {n: (a / n).read_bytes() for n in os.listdir(a) if n.endswith('.pth')} == before
    assert (a / 'last_checkpoint').read_text() == 'epoch_1.pth'
    assert _epoch(b / 'epoch_3.pth') == 3
    # the copy's own last_checkpoint names an original-only file: refused, with both paths named
    os.remove(b / 'epoch_3.pth')
    (b / 'last_checkpoint').write_text(str(a / 'epoch_3.pth'))
    with pytest.raises(CheckpointError, match='outside this work dir'):
        latest_checkpoint(str(b))


def test_resume_on_a_fresh_work_dir_trains_and_tests_from_any_current_folder(shapes_root, tmp_path, monkeypatch):
    """--resume with nothing to resume starts fresh, keeps the config's load_from, and runner.test()
    after training does not read the relative last_checkpoint against the current folder."""
    monkeypatch.chdir(tmp_path)  # not the work dir: a relative 'epoch_1.pth' read from here is missing
    work = tmp_path / 'runs' / 'fresh'
    cfg = prepare_config(CLS, work_dir=str(work), cfg_options=_options(shapes_root, 1), resume='auto')
    assert cfg.resume is False
    runner = build_runner(cfg)
    runner.train()
    assert (work / 'last_checkpoint').read_text() == 'epoch_1.pth'
    metrics = runner.test()
    assert 'accuracy/top1' in metrics
    # a fresh run keeps a load_from of the config (e.g. weights to start from)
    init = tmp_path / 'init.pth'
    shutil.copy(work / 'epoch_1.pth', init)
    cfg = prepare_config(CLS, work_dir=str(tmp_path / 'runs' / 'other'), resume='auto',
                         cfg_options=_options(shapes_root, 1, load_from=str(init)))
    assert (cfg.resume, cfg.load_from) == (False, str(init))
    # a config's own resume=True is resolved the same way: from the work dir's own latest checkpoint
    cfg = prepare_config(CLS, work_dir=str(work), cfg_options=_options(shapes_root, 2, resume=True))
    assert (cfg.resume, cfg.load_from) == (True, str(work / 'epoch_1.pth'))


def test_empty_last_checkpoint_falls_back_to_the_newest_checkpoint(tmp_path):
    for epoch in (2, 10):
        torch.save(dict(meta=dict(epoch=epoch), state_dict={}), tmp_path / f'epoch_{epoch}.pth')
    (tmp_path / 'last_checkpoint').write_text('')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_10.pth')
    assert latest_checkpoint(str(tmp_path / 'nothing')) is None


@pytest.mark.parametrize('content,match', [(b'', 'empty'), (b'garbage!', 'not a torch checkpoint'),
                                           ('truncated', 'truncated or corrupt')])
def test_unreadable_checkpoints_are_named(tmp_path, content, match):
    path = tmp_path / 'model.pth'
    if content == 'truncated':
        torch.save(dict(w=torch.zeros(1000)), path)
        content = path.read_bytes()[:-200]
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=match) as err:
        load_checkpoint_file(str(path))
    assert str(path) in str(err.value)
    (tmp_path / 'last_checkpoint').write_text('model.pth')
    with pytest.raises(CheckpointError, match=match):
        latest_checkpoint(str(tmp_path))


def test_test_tool_refuses_a_checkpoint_of_another_architecture(shapes_root, tmp_path):
    from tools.test import main
    wd = tmp_path / 'wd'
    _train(shapes_root, wd, 1)
    opts = [f'{k}={v}' for k, v in data_options(shapes_root / 'cls', 'test').items()]
    out = tmp_path / 'out'
    # a MobileNetV2 classifier checkpoint tested with a five-class head / another backbone
    for override in (['model.head.num_classes=5', 'data_preprocessor.num_classes=5'],
                     ['model.backbone.spec=proxyless_mobile']):
        with pytest.raises(CheckpointError, match='does not fit') as err:
            main([CLS, str(wd / 'epoch_1.pth'), '--work-dir', str(out),
                  '--cfg-options'] + opts + override)
        assert str(wd / 'epoch_1.pth') in str(err.value)
        assert not (out / 'results.json').exists()
    # the right checkpoint still tests, and is recorded
    main([CLS, str(wd / 'epoch_1.pth'), '--work-dir', str(out), '--cfg-options'] + opts)
    assert json.loads((out / 'results.json').read_text())['test']['checkpoint'] == str(wd / 'epoch_1.pth')


def test_misspelt_cfg_option_is_refused_with_the_closest_key():
    with pytest.raises(KeyError, match="'optim_wraper'.*did you mean 'optim_wrapper'"):
        prepare_config(CLS, cfg_options={'optim_wraper.optimizer.lr': 0.5})
    # settings the Runner reads may be added even when the config does not have them
    from mmadapt.utils.config_values import check_option_keys
    from mmengine.config import Config
    check_option_keys(Config(dict(model=dict())), {'randomness.seed': 0, 'load_from': 'x.pth', 'model.x': 1})
