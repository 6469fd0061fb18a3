"""--derived-spec in a work dir with a finished search: param.init='super' collects the given
architecture's parameters from that search's super-net (the control "seed architecture, super-net
weights")."""
import os.path as osp

import pytest

from mmadapt.arch import dump_spec, load_spec, path_of, path_spec
from mmadapt.engine import fna as fna_mod

from ..test_robustness.test_pipeline_files import SEED_OPT, Stop, _finished_arch, cfg, fna_cfg, stop_training  # noqa: F401


def test_derived_spec_takes_the_super_net_of_a_finished_search(tmp_path, cfg, stop_training):  # noqa: F811
    root = str(tmp_path / 'run')
    _finished_arch(root)
    space = load_spec(cfg.model.backbone.spec)
    seed_in_space = str(tmp_path / 'seed_in_space.yaml')
    dump_spec(path_spec(space, path_of(space, load_spec('mobilenet_v2'))), seed_in_space)
    with pytest.raises(Stop, match='param'):
        fna_mod.run_pipeline(cfg, work_dir=root, cfg_options=SEED_OPT, stage='param', derived_spec=seed_in_space)
    call = stop_training[-1]
    assert call['init'] == 'super'
    assert osp.realpath(call['super_ckpt']) == osp.realpath(osp.join(root, 'arch', 'epoch_3.pth'))
    # without a search in the work dir the given architecture starts from the seed, as before
    with pytest.raises(Stop, match='param'):
        fna_mod.run_pipeline(cfg, work_dir=str(tmp_path / 'fresh'), cfg_options=SEED_OPT, stage='param',
                             derived_spec=seed_in_space)
    assert stop_training[-1]['init'] == 'seed' and stop_training[-1]['super_ckpt'] is None


def test_seed_stage_needs_no_search(tmp_path, cfg, stop_training):  # noqa: F811
    root = str(tmp_path / 'seed_only')
    with pytest.raises(Stop, match='param'):
        fna_mod.run_pipeline(cfg, work_dir=root, cfg_options={**SEED_OPT, 'fna.seed_baseline': True}, stage='seed')
    call = stop_training[-1]
    assert call['init'] == 'seed' and call['work_dir'] == osp.join(root, 'seed')
    assert load_spec(call['spec']).name == 'mobilenet_v2'


def test_demo_reports_whether_the_search_converged(tmp_path):
    import json

    from tools.demo import search_report
    path = tmp_path / 'search_curves.json'
    curves = [dict(expected_madds=100e6), dict(expected_madds=80e6)]
    path.write_text(json.dumps(dict(entropy=1.5, uniform_entropy=1.52, curves=curves)))
    assert 'not converged' in search_report(str(path))
    path.write_text(json.dumps(dict(entropy=1.0, uniform_entropy=1.52, curves=curves)))
    assert 'partly converged' in search_report(str(path))
    path.write_text(json.dumps(dict(entropy=0.1, uniform_entropy=1.52, curves=curves)))
    line = search_report(str(path))
    assert 'converged' in line and 'not converged' not in line and '100.00M -> 80.00M' in line
    assert search_report(str(tmp_path / 'missing.json')) is None
