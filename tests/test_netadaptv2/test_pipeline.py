"""NetAdaptV2 end to end through tools/train.py on tiny shapes data: super-network, search, final
training and the summary; the search resumed after an iteration continues exactly; a bad budget is
refused before anything is trained."""
import json
import os.path as osp

import pytest

from mmadapt.arch import load_spec
from mmadapt.cost import spec_cost

from ..conftest import ROOT, cls_options

CONFIG = osp.join(ROOT, 'configs', 'netadaptv2', 'mobilenetv2_shapes.py')


def options(data_root, **extra):
    return cls_options(data_root, **{
        'model.backbone.spec': 'mobilenet_v2_x0.5', 'netadaptv2.holdout.size': 16,
        'netadaptv2.seed.checkpoint': None, 'netadaptv2.supernet.epochs': 1, 'netadaptv2.final.epochs': 1, 'netadaptv2.budget_ratio': 0.8,
        'netadaptv2.search.num_samples': 3, 'netadaptv2.search.num_layers': 2, 'netadaptv2.search.r0': 0.1,
        'netadaptv2.search.recal_batches': 1, 'netadaptv2.space.widths': 5, **extra})


def train(work, opts, resume=False):
    from tools.train import main
    main([CONFIG, '--work-dir', str(work)] + (['--resume'] if resume else []) +
         ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()])


def test_pipeline_summary_and_exact_search_resume(data32, tmp_path):
    work = tmp_path / 'run'
    train(work, options(data32))
    summary = json.loads((work / 'summary.json').read_text())
    search, rows = summary['search'], summary['rows']
    assert set(rows) == {'seed', 'found'}
    found = load_spec(rows['found']['spec'])
    assert found.to_dict() == load_spec(str(work / 'found_spec.yaml')).to_dict()
    seed_madds = spec_cost(load_spec('mobilenet_v2_x0.5'), (32, 32)).madds
    assert search['r_init'] == pytest.approx(seed_madds)
    assert rows['found']['cost'] == pytest.approx(spec_cost(found, (32, 32)).madds)
    assert rows['found']['cost'] <= 0.8 * seed_madds
    assert rows['seed']['cost'] == pytest.approx(seed_madds)
    assert rows['found']['test'] and rows['seed']['test']
    for name in ('summary.md', 'search/trajectory.json', 'search/trajectory.png', 'search/mcd_state.json',
                 'supernet/max_spec.yaml', 'holdout.json'):
        assert (work / name).is_file(), name
    traj = json.loads((work / 'search' / 'trajectory.json').read_text())
    assert len(traj['iterations']) == search['iterations'] >= 2
    assert [r['cost'] for r in traj['iterations']] == sorted((r['cost'] for r in traj['iterations']), reverse=True)
    # a search killed after its first iteration: the state file as it was then, and --resume
    state_file = work / 'search' / 'mcd_state.json'
    full = json.loads(state_file.read_text())
    first = full['state']['trajectory'][0]
    full['state'] = dict(iteration=1, genome=first['genome'], cost=first['cost'], score=first['score'],
                         samples_evaluated=first['num_samples'] + 0, trajectory=[first])
    state_file.write_text(json.dumps(full))
    (work / 'search' / 'stage_done.json').unlink()  # the trained networks stay done (skipped)
    (work / 'search' / 'trajectory.json').unlink()
    train(work, options(data32), resume=True)
    again = json.loads((work / 'search' / 'trajectory.json').read_text())
    assert again['iterations'] == traj['iterations']


def test_an_unreachable_budget_is_refused_before_training(data32, tmp_path):
    from mmadapt.methods.netadaptv2.mcd import BudgetError
    with pytest.raises(BudgetError, match='never goes below'):
        train(tmp_path / 'bad', options(data32, **{'netadaptv2.budget_ratio': 0.2, 'netadaptv2.search.r0': 0.01,
                                                   'netadaptv2.search.decay': 0.9}))
    assert not (tmp_path / 'bad' / 'supernet').exists()


def test_a_config_missing_the_cost_size_names_the_field(data32, tmp_path):
    from mmadapt.methods.netadaptv2.settings import NAv2ConfigError
    with pytest.raises(NAv2ConfigError, match='input_size'):
        train(tmp_path / 'bad', options(data32, **{'netadaptv2.cost.input_size': None}))


def test_two_ddp_ranks_share_the_samples_and_agree(data32, tmp_path):
    """Two CPU processes: ordered dropout per rank, the search's samples split over the ranks and
    their scores gathered; both ranks end with the same state."""
    from ..conftest import dist_train
    work = tmp_path / 'ddp'
    opts = options(data32, **{'log_level': 'INFO', 'netadaptv2.compare': '[]'})
    log = dist_train(CONFIG, work, opts, port_base=29700)
    assert 'NetAdaptV2 search state (genome, resource, score) identical on 2 ranks' in log
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['rows']['found']['cost'] <= 0.8 * summary['search']['r_init']


@pytest.fixture(scope='module')
def depth_root(tmp_path_factory):
    from mmadapt.datasets import make_shapes
    root = tmp_path_factory.mktemp('depth') / 'shapes_depth'
    make_shapes('depth', str(root), 40, 8, 64, seed=0)
    return str(root) + '/'


def test_fastdepth_searched_by_delta1_and_trained_along_the_trajectory(depth_root, tmp_path):
    """FastDepth on the built-in depth data: the search scores samples by delta1 on held-out images
    read through mmseg's NYU dataset, and the found network is trained by trajectory transfer."""
    from mmadapt.utils import data_root_options
    from tools.train import main
    work = tmp_path / 'depth'
    opts = {**data_root_options(depth_root), 'log_level': 'WARNING', 'train_dataloader.batch_size': 8,
            'netadaptv2.seed.checkpoint': None, 'netadaptv2.holdout.size': 8, 'netadaptv2.supernet.epochs': 1,
            'netadaptv2.search.num_samples': 2, 'netadaptv2.search.r0': 0.1, 'netadaptv2.search.recal_batches': 1,
            'netadaptv2.budget_ratio': 0.8, 'netadaptv2.final.epochs': 1, 'netadaptv2.final.transfer_every': 1,
            'netadaptv2.compare': '[]', 'train_dataloader.num_workers': 0, 'val_dataloader.num_workers': 0,
            'test_dataloader.num_workers': 0, 'train_dataloader.persistent_workers': False,
            'val_dataloader.persistent_workers': False, 'test_dataloader.persistent_workers': False}
    main([osp.join(ROOT, 'configs', 'netadaptv2', 'fastdepth_shapes.py'), '--work-dir', str(work), '--cfg-options']
         + [f'{k}={v}' for k, v in opts.items()])
    summary = json.loads((work / 'summary.json').read_text())
    found = summary['rows']['found']
    assert found['stage'] == 'final' and found['steps'] == summary['search']['iterations'] >= 2
    assert 'd1' in found['test'] and 'rmse' in found['test']
    steps = sorted(p.name for p in (work / 'final').iterdir() if p.name.startswith('transfer_'))
    assert len(steps) == found['steps']
    for k in range(found['steps']):
        assert (work / 'final' / f'transfer_{k}' / 'transfer_init.pth').is_file()
