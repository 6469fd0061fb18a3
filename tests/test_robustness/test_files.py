"""Nothing lost, nothing owner-only: destructive and writing file operations (part of issue 18)."""
import os
import os.path as osp
import signal
import stat

import pytest
import torch

from mmadapt.arch import dump_spec, load_spec
from mmadapt.datasets import ShapesArgumentError, make_shapes
from mmadapt.datasets import shapes as shapes_mod
from mmadapt.utils.fileio import atomic_write

TINY = dict(num_train=2, num_val=2, size=32)


@pytest.mark.parametrize('out', ['', '   ', '.', '..', '~', '/'])
def test_make_shapes_refuses_outputs_that_would_replace_a_users_folder(tmp_path, monkeypatch, out):
    work = tmp_path / 'home' / 'project'
    work.mkdir(parents=True)
    (work / 'precious.txt').write_text('keep me')
    monkeypatch.chdir(work)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    with pytest.raises(ShapesArgumentError, match='empty|refusing output folder'):
        make_shapes('cls', osp.expanduser(out) if out == '~' else out, overwrite=True, **TINY)
    assert (work / 'precious.txt').read_text() == 'keep me'
    assert sorted(os.listdir(tmp_path / 'home')) == ['project']


def test_cli_with_an_unset_variable_deletes_nothing(tmp_path, monkeypatch):
    from tools.data.make_shapes import main
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'precious.txt').write_text('keep me')
    assert main(['--task', 'cls', '--out', '', '--overwrite', '--num-train', '2', '--num-val', '2',
                 '--size', '32']) == 2
    assert sorted(os.listdir(tmp_path)) == ['precious.txt']


def test_overwrite_replaces_only_a_shapes_data_set(tmp_path):
    own = tmp_path / 'own'
    make_shapes('cls', str(own), **TINY)
    make_shapes('cls', str(own), overwrite=True, num_train=3, num_val=1, size=32)  # its own: replaced
    import json
    assert json.loads((own / 'meta.json').read_text())['num_train'] == 3
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'thesis.tex').write_text('years of work')
    with pytest.raises(ShapesArgumentError, match='is not a shapes data set'):
        make_shapes('cls', str(other), overwrite=True, **TINY)
    assert (other / 'thesis.tex').read_text() == 'years of work'


def test_temporary_folder_of_a_killed_run_is_removed_by_the_next_run(tmp_path):
    # a run killed outright (SIGKILL) leaves its temporary folder; its process no longer exists
    dead = 2 ** 22 + 12345
    with pytest.raises(ProcessLookupError):
        os.kill(dead, 0)
    stale = tmp_path / f'.shapes-out-{dead}-abc'
    (stale / 'train').mkdir(parents=True)
    live = tmp_path / f'.shapes-out-{os.getpid()}-xyz'  # a run in progress (this process) is left alone
    live.mkdir()
    other = tmp_path / f'.shapes-another-{dead}-abc'  # another output's temporary folder too
    other.mkdir()
    make_shapes('cls', str(tmp_path / 'out'), **TINY)
    assert sorted(os.listdir(tmp_path)) == sorted(['out', live.name, other.name])


def test_sigterm_during_generation_leaves_nothing(tmp_path, monkeypatch):
    from tools.data.make_shapes import main

    def writer(out, split, num, size, seed):
        os.makedirs(osp.join(out, split))
        if split == 'val':  # the signal arrives at a known moment, no sleep involved
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setitem(shapes_mod._WRITERS, 'det', writer)
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as info:
        main(['--task', 'det', '--out', str(tmp_path / 'out'), '--num-train', '2', '--num-val', '2'])
    assert info.value.code == 128 + signal.SIGTERM
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) == handler  # the tool's handler is removed again


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_get_the_usual_permissions_not_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        make_shapes('cls', str(tmp_path / 'data'), **TINY)
        dump_spec(load_spec('mobilenet_v2'), str(tmp_path / 'spec.yaml'))
        atomic_write(str(tmp_path / 'ckpt.pth'), lambda p: torch.save({'a': torch.zeros(1)}, p))
    finally:
        os.umask(old)
    assert _mode(tmp_path / 'data') == 0o755
    assert _mode(tmp_path / 'spec.yaml') == 0o644 and _mode(tmp_path / 'ckpt.pth') == 0o644
    assert [p for p in os.listdir(tmp_path) if p.startswith('.')] == []


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / 'ckpt.pth'
    atomic_write(str(path), lambda p: torch.save({'epoch': 1}, p))

    def half_then_crash(p):
        with open(p, 'wb') as f:
            f.write(b'trunc')
        raise OSError('disk full')

    with pytest.raises(OSError, match='disk full'):
        atomic_write(str(path), half_then_crash)
    assert torch.load(path)['epoch'] == 1 and os.listdir(tmp_path) == ['ckpt.pth']


def test_config_values_are_checked_not_coerced():
    """A negative lambda would maximise MAdds; bool('no') is True; k3e0.001 would silently bypass."""
    from mmadapt.arch import SpecError, spec_from_dict
    from mmadapt.engine.fna import FNAConfigError
    from mmadapt.utils.config_values import config_bool, config_number
    with pytest.raises(FNAConfigError, match="fna.seed_baseline must be True or False, got 'no'"):
        config_bool('no', 'fna.seed_baseline', FNAConfigError)
    assert config_bool(False, 'x') is False
    with pytest.raises(ValueError, match='lam must be >= 0.0, got -0.2 \\(a negative one'):
        config_number(-0.2, 'mmadapt.ArchAdaptLoop lam', minimum=0.0, why='a negative one would maximise MAdds')
    with pytest.raises(ValueError, match='must be a finite number'):
        config_number(float('nan'), 'lam')
    d = load_spec('mobilenet_v2').to_dict()
    d['stages'][2]['blocks'][1] = 'k3e0.001'
    with pytest.raises(SpecError, match="stage 2 layer 1: 'k3e0.001': expansion 0.001 of 32 input channels rounds "
                                        "to a hidden width of 0"):
        spec_from_dict(d)
