"""The FNA++ pipeline's own files: copied work dirs, corrupt or stale files, atomic writes, misspelt
options. No training runs: the pipeline is stopped where it would start one."""
import copy
import json
import logging
import os
import os.path as osp
import shutil
import sys
from types import SimpleNamespace

import pytest
import torch
from mmengine.config import Config

from mmadapt.arch import dump_spec, load_spec
from mmadapt.engine import fna as fna_mod
from mmadapt.engine.fna import FNAConfigError, FNAFileError
from ..conftest import ROOT

FNA_CONFIG = osp.join(ROOT, 'configs/fna/retinanet_mbv2_shapes.py')
SEED_OPT = {'fna.seed.checkpoint': 'seed.pth'}


class Stop(Exception):
    """Raised where the pipeline would start a training run."""


@pytest.fixture(scope='module')
def fna_cfg():
    return Config.fromfile(FNA_CONFIG)


@pytest.fixture
def cfg(fna_cfg):
    return copy.deepcopy(fna_cfg)


@pytest.fixture
def warnings(monkeypatch):
    """The warnings the pipeline logs (print_log with level WARNING)."""
    seen = []
    real = fna_mod.print_log

    def record(msg, logger=None, level=logging.INFO):
        if level >= logging.WARNING:
            seen.append(str(msg))
        real(msg, logger=logger, level=level)
    monkeypatch.setattr(fna_mod, 'print_log', record)
    return seen


@pytest.fixture
def stop_training(monkeypatch):
    """Stop the pipeline where it would train: record what the parameter adaptation would start from."""
    calls = []

    def param_config(cfg, fna, spec, init, super_ckpt, work_dir, train_cfg=None):
        calls.append(dict(spec=spec, init=init, super_ckpt=super_ckpt, work_dir=work_dir))
        raise Stop('param')

    def run(*args, **kwargs):
        raise Stop('run')
    monkeypatch.setattr(fna_mod, '_param_config', param_config)
    monkeypatch.setattr(fna_mod, '_run', run)
    return calls


def _checkpoint(path, value):
    os.makedirs(osp.dirname(path), exist_ok=True)
    torch.save({'state_dict': {'w': torch.tensor([float(value)])}}, path)


def _finished_arch(root, mark=True):
    """A work dir whose architecture adaptation finished, with the absolute paths an older version stored."""
    arch = osp.join(root, 'arch')
    os.makedirs(arch, exist_ok=True)
    dump_spec(load_spec('mobilenet_v2'), osp.join(arch, 'derived_final.yaml'))
    _checkpoint(osp.join(arch, 'epoch_3.pth'), 3)
    if mark:
        with open(osp.join(arch, 'stage_done.json'), 'w') as f:
            json.dump(dict(derived_spec=osp.join(arch, 'derived_final.yaml'),
                           super_checkpoint=osp.join(arch, 'epoch_3.pth'), seconds=1.0), f)
    return arch


# -- 1. a copied or moved work dir resumes from its own files ---------------------------------------

def test_stored_paths_are_relative_to_the_work_dir(tmp_path):
    root = tmp_path / 'work'
    inside = root / 'arch' / 'epoch_3.pth'
    assert fna_mod._stored_path(str(root), str(inside)) == osp.join('arch', 'epoch_3.pth')
    outside = tmp_path / 'mine.yaml'
    assert fna_mod._stored_path(str(root), str(outside)) == str(outside)
    assert fna_mod._stored_path(str(root), None) is None


def test_copied_work_dir_resolves_its_own_arch_files(tmp_path, warnings):
    orig = str(tmp_path / 'orig')
    _finished_arch(orig)
    copy_root = str(tmp_path / 'copy')
    shutil.copytree(orig, copy_root)
    # the copy's own files differ from the original's (the original may have moved on)
    _checkpoint(osp.join(copy_root, 'arch', 'epoch_3.pth'), 33)
    own_spec = osp.join(copy_root, 'arch', 'derived_final.yaml')
    own_ckpt = osp.join(copy_root, 'arch', 'epoch_3.pth')
    # absolute paths into the original (older versions): the copy's files at the same place, with a warning
    got = fna_mod._resolve_stored_path(copy_root, 'arch', 'super_checkpoint', osp.join(orig, 'arch', 'epoch_3.pth'))
    assert got == own_ckpt
    assert warnings and 'epoch_3.pth' in warnings[-1] and 'stage_done.json' in warnings[-1]
    got = fna_mod._resolve_stored_path(copy_root, 'arch', 'derived_spec',
                                       osp.join(orig, 'arch', 'derived_final.yaml'))
    assert got == own_spec
    # relative paths (this version): resolved against the work dir, not the working directory
    n = len(warnings)
    assert fna_mod._resolve_stored_path(copy_root, 'arch', 'derived_spec', 'arch/derived_final.yaml') == own_spec
    assert len(warnings) == n
    # a file the copy lacks: an error naming stage_done.json and the missing file, not the original's file
    with pytest.raises(FNAConfigError, match=r'stage_done\.json.*epoch_9\.pth'):
        fna_mod._resolve_stored_path(copy_root, 'arch', 'super_checkpoint', osp.join(orig, 'arch', 'epoch_9.pth'))
    _checkpoint(osp.join(orig, 'arch', 'epoch_9.pth'), 9)
    with pytest.raises(FNAConfigError, match=r'stage_done\.json.*epoch_9\.pth'):
        fna_mod._resolve_stored_path(copy_root, 'arch', 'super_checkpoint', osp.join(orig, 'arch', 'epoch_9.pth'))


def test_copied_work_dir_parameter_adaptation_starts_from_its_own_super_net(tmp_path, cfg, stop_training,
                                                                           warnings):
    orig = str(tmp_path / 'orig')
    _finished_arch(orig)
    copy_root = str(tmp_path / 'copy')
    shutil.copytree(orig, copy_root)
    with pytest.raises(Stop, match='param'):
        fna_mod.run_pipeline(cfg, work_dir=copy_root, cfg_options=SEED_OPT, stage='param')
    call = stop_training[-1]
    assert call['init'] == 'super'
    assert osp.realpath(call['super_ckpt']) == osp.realpath(osp.join(copy_root, 'arch', 'epoch_3.pth'))
    assert call['work_dir'] == osp.join(copy_root, 'param')
    # the original gone: still the copy's own files
    shutil.rmtree(orig)
    with pytest.raises(Stop, match='param'):
        fna_mod.run_pipeline(copy.deepcopy(cfg), work_dir=copy_root, cfg_options=SEED_OPT, stage='param')
    assert osp.realpath(stop_training[-1]['super_ckpt']) == osp.realpath(osp.join(copy_root, 'arch', 'epoch_3.pth'))


def test_missing_super_net_of_a_copied_work_dir_is_named(tmp_path, cfg, stop_training):
    orig = str(tmp_path / 'orig')
    _finished_arch(orig)
    copy_root = str(tmp_path / 'copy')
    shutil.copytree(orig, copy_root)
    os.remove(osp.join(copy_root, 'arch', 'epoch_3.pth'))
    with pytest.raises(FNAConfigError, match=r'copy/arch/stage_done\.json: super_checkpoint .*orig/arch/epoch_3'):
        fna_mod.run_pipeline(cfg, work_dir=copy_root, cfg_options=SEED_OPT, stage='param')
    assert not stop_training  # nothing started from the original's checkpoint


# -- 2. corrupt files -------------------------------------------------------------------------------

@pytest.mark.parametrize('text', ['', '{"derived_spec": "arch/deri', '[1, 2]'])
def test_corrupt_stage_done_counts_as_not_done(tmp_path, warnings, text):
    root = str(tmp_path)
    os.makedirs(osp.join(root, 'param'))
    done = osp.join(root, 'param', 'stage_done.json')
    with open(done, 'w') as f:
        f.write(text)
    assert fna_mod._done(root, 'param') is None
    assert any(done in w for w in warnings)


def test_corrupt_stage_done_does_not_block_resume(tmp_path, cfg, stop_training, warnings):
    root = str(tmp_path / 'work')
    _finished_arch(root)
    os.makedirs(osp.join(root, 'param'))
    with open(osp.join(root, 'param', 'stage_done.json'), 'w') as f:
        f.write('{"seconds": 12')  # killed while an older version wrote it
    with pytest.raises(Stop, match='param'):  # the stage runs again (resuming from its own checkpoints)
        fna_mod.run_pipeline(cfg, work_dir=root, cfg_options=SEED_OPT, stage='param', resume=True)
    assert any(osp.join(root, 'param', 'stage_done.json') in w for w in warnings)
    # a corrupt marker of the architecture stage: the stage it is needed by says so (no bare JSON error)
    with open(osp.join(root, 'arch', 'stage_done.json'), 'w') as f:
        f.write('')
    with pytest.raises(FNAConfigError, match='needs a finished architecture adaptation'):
        fna_mod.run_pipeline(copy.deepcopy(cfg), work_dir=root, cfg_options=SEED_OPT, stage='param', resume=True)


def test_corrupt_summary_is_kept_aside(tmp_path, cfg, warnings):
    root = str(tmp_path / 'work')
    os.makedirs(root)
    with open(osp.join(root, 'summary.json'), 'w') as f:
        f.write('{"networks": {"adapt')
    spec = str(tmp_path / 'mine.yaml')
    dump_spec(load_spec('mobilenet_v2'), spec)
    # --stage arch with a derived spec given runs nothing and writes the summary
    summary = fna_mod.run_pipeline(cfg, work_dir=root, cfg_options=SEED_OPT, stage='arch', derived_spec=spec,
                                   resume=True)
    assert summary['networks'] == {}
    with open(osp.join(root, 'summary.json.corrupt')) as f:
        assert f.read() == '{"networks": {"adapt'
    assert json.loads(open(osp.join(root, 'summary.json')).read())['networks'] == {}
    assert any(osp.join(root, 'summary.json') in w for w in warnings)


def test_corrupt_results_are_named(tmp_path):
    with open(tmp_path / 'results.json', 'w') as f:
        f.write('{"val": [{"metr')
    with pytest.raises(FNAFileError, match=r'results\.json'):
        fna_mod._results(str(tmp_path))


# -- 3. stale rows and markers of an older run -------------------------------------------------------

OLD_SUMMARY = dict(config='old.py', derived_spec='old arch', times=dict(arch=1.0, param=2.0, seed=3.0),
                   networks=dict(adapted=dict(init='super'), seed=dict(init='seed')))


def _old_run(root):
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, 'summary.json'), 'w') as f:
        json.dump(OLD_SUMMARY, f)
    for stage in ('arch', 'param', 'seed'):
        os.makedirs(osp.join(root, stage), exist_ok=True)
        with open(osp.join(root, stage, 'stage_done.json'), 'w') as f:
            json.dump(dict(seconds=1.0), f)


@pytest.mark.parametrize('stage,resume,seed_baseline,networks,times,derived', [
    ('all', False, True, set(), set(), False),                       # a fresh run: a fresh summary
    ('all', True, True, {'adapted', 'seed'}, {'arch', 'param', 'seed'}, True),
    ('all', True, False, {'adapted'}, {'arch', 'param'}, True),      # no seed baseline: no seed row
    ('arch', False, True, {'seed'}, {'seed'}, False),                # a new architecture: no adapted row
    ('param', False, True, {'seed'}, {'arch', 'seed'}, True),
    ('seed', False, True, {'adapted'}, {'arch', 'param'}, True),
    ('param', True, True, {'adapted', 'seed'}, {'arch', 'param', 'seed'}, True),
])
def test_stale_rows_are_dropped(tmp_path, stage, resume, seed_baseline, networks, times, derived):
    root = str(tmp_path)
    _old_run(root)
    summary = fna_mod._load_summary(root, stage, resume, seed_baseline)
    assert set(summary['networks']) == networks
    assert set(summary['times']) == times
    assert ('derived_spec' in summary) == derived


def test_fresh_run_clears_old_markers(tmp_path, cfg, stop_training):
    root = str(tmp_path)
    _old_run(root)
    with pytest.raises(Stop, match='run'):
        fna_mod.run_pipeline(cfg, work_dir=root, cfg_options=SEED_OPT)
    for stage in ('arch', 'param', 'seed'):
        assert not osp.exists(osp.join(root, stage, 'stage_done.json')), stage


def test_new_architecture_invalidates_parameter_adaptation(tmp_path, cfg, stop_training):
    root = str(tmp_path)
    _old_run(root)
    with pytest.raises(Stop, match='run'):
        fna_mod.run_pipeline(cfg, work_dir=root, cfg_options=SEED_OPT, stage='arch')
    assert not osp.exists(osp.join(root, 'arch', 'stage_done.json'))
    assert not osp.exists(osp.join(root, 'param', 'stage_done.json'))  # --resume must not skip param
    assert osp.exists(osp.join(root, 'seed', 'stage_done.json'))  # the seed baseline does not depend on arch


# -- 4. atomic writes ----------------------------------------------------------------------------------

def test_stage_done_and_summary_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    root = str(tmp_path)
    fna_mod._mark_done(root, 'arch', dict(derived_spec='arch/derived_final.yaml', seconds=1.0))
    good = open(osp.join(root, 'arch', 'stage_done.json')).read()
    with pytest.raises(TypeError):  # fails midway through the JSON
        fna_mod._mark_done(root, 'arch', dict(derived_spec='arch/x.yaml', seconds=2.0, bad=object()))
    assert open(osp.join(root, 'arch', 'stage_done.json')).read() == good
    summary = dict(search='diff', cost_input_size=[64, 64], times=dict(arch=1.0), networks={})
    fna_mod._write_summary(root, summary)
    good_json = open(osp.join(root, 'summary.json')).read()
    good_md = open(osp.join(root, 'summary.md')).read()
    with pytest.raises(TypeError):
        fna_mod._write_summary(root, dict(summary, zzz=object()))
    assert open(osp.join(root, 'summary.json')).read() == good_json
    # a failure after the new text is written (a kill before it is in place) leaves the old files
    import mmadapt.utils.fileio as fileio

    def fail(src, dst):
        raise OSError('killed')
    monkeypatch.setattr(fileio.os, 'replace', fail)
    with pytest.raises(OSError, match='killed'):
        fna_mod._mark_done(root, 'arch', dict(seconds=3.0))
    with pytest.raises(OSError, match='killed'):
        fna_mod._write_summary(root, dict(summary, times=dict(arch=5.0)))
    monkeypatch.undo()
    assert open(osp.join(root, 'arch', 'stage_done.json')).read() == good
    assert open(osp.join(root, 'summary.json')).read() == good_json
    assert open(osp.join(root, 'summary.md')).read() == good_md
    assert sorted(os.listdir(root)) == ['arch', 'summary.json', 'summary.md']  # no temporary files left
    assert os.listdir(osp.join(root, 'arch')) == ['stage_done.json']


def test_search_curves_are_written_whole_or_not_at_all(tmp_path, monkeypatch):
    import mmadapt.arch as arch_mod
    from mmadapt.engine.loops import arch_adapt
    monkeypatch.setattr(arch_mod, 'draw_spec', lambda *a, **k: None)
    monkeypatch.setattr(arch_adapt, 'plot_curves', lambda *a, **k: None)
    backbone = SimpleNamespace(derive=lambda: load_spec('mobilenet_v2'), path_madds=lambda path, size: 1e6,
                               argmax_path=lambda: [], arch_params=[torch.zeros(2)])
    loop = SimpleNamespace(runner=SimpleNamespace(work_dir=str(tmp_path)), backbone=backbone,
                           cost_input_size=(64, 64), curves=[dict(loss=1.0)], weight_indices=[0],
                           arch_indices=[1], warmup_epochs=0, entropy=lambda: 0.69, uniform_entropy=lambda: 0.69,
                           cost_target=None, derived_spec=lambda path=None: backbone.derive(),
                           derived_path=backbone.argmax_path)
    arch_adapt.ArchAdaptLoop.write_final(loop)
    path = tmp_path / 'search_curves.json'
    good = path.read_text()
    assert json.loads(good)['curves'] == [dict(loss=1.0)]
    loop.curves = [dict(loss=1.0), dict(loss=object())]
    with pytest.raises(TypeError):
        arch_adapt.ArchAdaptLoop.write_final(loop)
    assert path.read_text() == good


def test_spec_picture_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from mmadapt.arch import draw_spec
    path = str(tmp_path / 'derived.png')
    draw_spec('mobilenet_v2', path)
    good = open(path, 'rb').read()
    assert good.startswith(b'\x89PNG')

    def savefig(self, fname, *args, **kwargs):
        with open(fname, 'wb') as f:
            f.write(b'\x89PNG half')
        raise RuntimeError('killed')
    monkeypatch.setattr(Figure, 'savefig', savefig)
    with pytest.raises(RuntimeError, match='killed'):
        draw_spec('mobilenet_v2', path)
    assert open(path, 'rb').read() == good
    assert os.listdir(tmp_path) == ['derived.png']


def test_remap_report_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    import mmadapt.models.checkpoint as ckpt_mod
    from tools.remap import main
    report = tmp_path / 'report.json'
    report.write_text('{"old": "report"}')
    (tmp_path / 'src.pth').write_bytes(b'x')
    result = SimpleNamespace(seed_report=None, report=SimpleNamespace(summary=lambda: 'report'),
                             meta=dict(copied=[], zzz=object()), save=lambda path: None)
    monkeypatch.setattr(ckpt_mod, 'remap_checkpoint', lambda *a, **k: result)
    with pytest.raises(TypeError):
        main([str(tmp_path / 'src.pth'), '--src-spec', 'mobilenet_v2', '--dst-spec', 'mobilenet_v2', '--out',
              str(tmp_path / 'out.pth'), '--report', str(report)])
    assert report.read_text() == '{"old": "report"}'


def test_demo_passes_absolute_checkpoint_paths_on(tmp_path):
    from tools import demo
    # a relative last_checkpoint (mmadapt's CheckpointHook): the demo passes an absolute path on
    stage_dir = tmp_path / 'seed_cls'
    _checkpoint(str(stage_dir / 'epoch_2.pth'), 2)
    (stage_dir / 'last_checkpoint').write_text('epoch_2.pth')
    assert demo.last_checkpoint(str(stage_dir)) == str(stage_dir / 'epoch_2.pth')


# -- 5. misspelt options ---------------------------------------------------------------------------------

def test_misspelt_cfg_option_is_refused_before_anything_runs(tmp_path, cfg, stop_training):
    work = tmp_path / 'work'
    with pytest.raises(FNAConfigError, match=r"optim_wraper.*did you mean 'optim_wrapper'"):
        fna_mod.run_pipeline(cfg, work_dir=str(work), cfg_options={**SEED_OPT, 'optim_wraper.optimizer.lr': 0.1})
    assert not work.exists()


def test_param_cfg_options_must_name_existing_fields():
    cfg = Config(dict(train_dataloader=dict(batch_size=2, dataset=dict(pipeline=[dict(type='A'), dict(type='B')])),
                      model=dict(backbone=dict(type='X'))))
    fna_mod._replace(cfg, 'train_dataloader.batch_size', 4)
    fna_mod._replace(cfg, 'train_dataloader.dataset.pipeline.1.scale', (8, 8))  # the last part may be new
    fna_mod._replace(cfg, 'model.backbone', dict(type='Y'))
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.train_dataloader.dataset.pipeline[1].scale == (8, 8) and cfg.model.backbone.type == 'Y'
    with pytest.raises(FNAConfigError, match=r"'train_dataloadr\.batch_size'.*'train_dataloadr'"):
        fna_mod._replace(cfg, 'train_dataloadr.batch_size', 4)
    with pytest.raises(FNAConfigError, match=r"'train_dataloader\.dataset\.pipeline\.5\.scale'"):
        fna_mod._replace(cfg, 'train_dataloader.dataset.pipeline.5.scale', 4)
    with pytest.raises(FNAConfigError, match=r"'model\.backbone\.type\.x'"):
        fna_mod._replace(cfg, 'model.backbone.type.x', 4)
