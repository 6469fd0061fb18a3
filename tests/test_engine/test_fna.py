"""The FNA++ engine on a tiny super-net and the built-in shapes data: search, pipeline, resume, DDP."""
import itertools
import json
import os
import os.path as osp
import shutil
import subprocess

import pytest
import torch

from mmadapt.arch import load_spec, spec_from_dict
from mmadapt.cost import spec_cost
from ..conftest import ROOT, data_options, python, tool

SPACE = dict(
    name='tiny_space', family='mbv2', stem=dict(out_channels=8, kernel=3, stride=2),
    stages=[dict(out_channels=8, stride=1, blocks=['k3e1']),
            dict(out_channels=8, stride=2, blocks=['k3e3|k5e6', 'k3e3|k5e6|skip']),
            dict(out_channels=16, stride=2, blocks=['k3e3|k5e6', 'k3e3|k5e6|skip']),
            dict(out_channels=16, stride=2, blocks=['k3e3|k7e6']),
            dict(out_channels=24, stride=1, blocks=['k3e3|k7e6', 'k3e3|k7e6|skip']),
            dict(out_channels=24, stride=2, blocks=['k3e3|k7e6']),
            dict(out_channels=32, stride=1, blocks=['k3e3'])],
    head=dict(out_channels=64))
SEED = dict(SPACE, name='tiny_seed', stages=[
    dict(s, blocks=['k3e6' if i else 'k3e1'] * (1 if i in (0, 3, 5, 6) else 2))
    for i, s in enumerate(SPACE['stages'])])

CONFIG = """
_base_ = '{root}/configs/baselines/mobilenetv2_shapes_cls.py'
model = dict(
    backbone=dict(_delete_=True, type='mmadapt.SuperMobileNetV2', spec={space!r}, out_indices=(7, ),
                  input_size=(64, 64)),
    head=dict(in_channels=64))
train_cfg = dict(_delete_=True, type='mmadapt.ArchAdaptLoop', max_epochs=3, warmup_epochs=1, val_interval=3,
                 lam=0.0, arch_ratio=0.5, arch_optim=dict(type='Adam', lr=0.05, betas=(0.5, 0.999)),
                 cost_input_size=(64, 64))
find_unused_parameters = True
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=-1))
fna = dict(seed=dict(checkpoint='{seed}', spec={seed_spec!r}), cost_input_size=(64, 64),
           param=dict(train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1)))
"""


@pytest.fixture(scope='module')
def fna_config(tmp_path_factory):
    from mmadapt.models import DerivedMobileNetV2
    folder = tmp_path_factory.mktemp('fna')
    torch.manual_seed(0)
    seed = DerivedMobileNetV2(spec=SEED)
    seed_path = folder / 'seed.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in seed.state_dict().items()}}, seed_path)
    cfg = folder / 'fna_tiny.py'
    cfg.write_text(CONFIG.format(root=ROOT, space=SPACE, seed=seed_path, seed_spec=SEED))
    return str(cfg)


def _options(shapes_root, **extra):
    # INFO: the tests read the search's log lines
    opts = {**data_options(shapes_root / 'cls', 'fna'), 'train_dataloader.batch_size': 8, 'log_level': 'INFO'}
    opts.update(extra)
    return ['--cfg-options'] + [f'{k}={v}' for k, v in opts.items()]


def _train(config, work_dir, shapes_root, *args, **extra):
    proc = subprocess.run([python(), tool('train.py'), config, '--work-dir', str(work_dir), *args,
                           *_options(shapes_root, **extra)], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


def _arch_params(path):
    state = torch.load(path, map_location='cpu')['state_dict']
    return [state[f'backbone.arch_params.{i}'] for i in range(len([k for k in state if 'arch_params.' in k]))]


def test_search_moves_architecture_and_lambda_lowers_madds(fna_config, shapes_root, tmp_path):
    madds, entropies, expected = {}, {}, {}
    for lam in (0.0, 3.0):
        work = tmp_path / f'lam{lam}'
        # 4 architecture steps (2 per search epoch): a step size that lets the distribution travel
        log = _train(fna_config, work, shapes_root, '--stage', 'arch',
                     **{'train_cfg.lam': lam, 'train_cfg.arch_optim.lr': 0.3})
        for key in ('sampled_madds_M', 'expected_madds_M', 'arch_entropy', 'cost_term', 'arch_task_loss',
                    'arch_grad_task', 'arch_grad_cost'):
            assert key in log, key
        alphas = _arch_params(work / 'arch' / 'epoch_3.pth')
        assert len(alphas) == len(load_spec(SPACE).searchable_layers())
        assert all(a.abs().sum() > 0 for a in alphas), 'architecture parameters moved'
        for name in ('derived_epoch_1.yaml', 'derived_epoch_3.yaml', 'derived_final.yaml', 'derived.png',
                     'search_curves.png', 'search_curves.json'):
            assert (work / 'arch' / name).is_file(), name
        derived = load_spec(str(work / 'arch' / 'derived_final.yaml'))
        assert derived.is_derived
        madds[lam] = spec_cost(derived, (64, 64)).madds
        record = json.loads((work / 'arch' / 'search_curves.json').read_text())
        curves = record['curves']
        assert len(curves) == 3 * 2  # 16 weight items / batch 8, 3 epochs
        # the distribution left uniform: mean entropy over the searchable layers, against uniform's
        probs = [torch.tensor(a).softmax(0) for a in record['arch_params']]
        entropy = float(torch.stack([-(p * p.log()).sum() for p in probs]).mean())
        uniform = float(torch.stack([torch.tensor(float(len(p))).log() for p in probs]).mean())
        entropies[lam] = (entropy, uniform)
        assert (record['entropy'], record['uniform_entropy']) == pytest.approx((entropy, uniform), rel=1e-5)
        expected[lam] = (curves[0]['expected_madds'], curves[-1]['expected_madds'])
    assert madds[3.0] < 0.85 * madds[0.0], madds  # the cost term pulls the derived network down
    # with a cost term the search concentrates the distribution and lowers the expected MAdds
    entropy, uniform = entropies[3.0]
    assert entropy < 0.75 * uniform, entropies
    first, last = expected[3.0]
    assert last < 0.9 * first, expected


def test_cost_target_resolves_a_spec_or_number_and_refuses_what_the_space_cannot_reach():
    from mmadapt.arch import SpecError, path_spec
    from mmadapt.engine.loops.arch_adapt import resolve_cost_target
    from mmadapt.models import SuperMobileNetV2
    net = SuperMobileNetV2(spec=SPACE, out_indices=(7, ), input_size=(64, 64))
    space = load_spec(SPACE)
    cost = spec_cost(space, (64, 64), out_indices=(7, ))
    last = [len(lc.madds) - 1 for lc in cost.table()]
    big = path_spec(space, last, name='big')
    # a derived spec of the space: its own MAdds (as counted by the cost model, out_indices of the net)
    assert resolve_cost_target(big.to_dict(), net, (64, 64)) == cost.path_madds(last)
    assert resolve_cost_target(1.5e6, net, (64, 64)) == 1.5e6
    with pytest.raises(SpecError, match='cost_target.*stage 1'):  # k3e6 is not a candidate of stage 1
        resolve_cost_target(SEED, net, (64, 64))
    with pytest.raises(ValueError, match='outside what the search space reaches'):
        resolve_cost_target(1e3, net, (64, 64))
    with pytest.raises(ValueError, match='cost_target'):
        resolve_cost_target(-5, net, (64, 64))


def test_cost_target_pulls_expected_madds_to_the_budget_from_either_side(fna_config, shapes_root, tmp_path):
    cost = spec_cost(load_spec(SPACE), (64, 64), out_indices=(7, ))
    table = cost.table()
    low = cost.fixed_madds + sum(min(lc.madds) for lc in table)
    high = cost.fixed_madds + sum(max(lc.madds) for lc in table)
    uniform = cost.fixed_madds + sum(sum(lc.madds) / len(lc.madds) for lc in table)
    for target in (low + 0.1 * (high - low), high - 0.1 * (high - low)):
        work = tmp_path / f'target{int(target)}'
        log = _train(fna_config, work, shapes_root, '--stage', 'arch',
                     **{'train_cfg.lam': 3.0, 'train_cfg.arch_optim.lr': 0.3, 'train_cfg.cost_target': target})
        assert f'cost target {target / 1e6:.2f}M MAdds (two-sided)' in log
        curves = json.loads((work / 'arch' / 'search_curves.json').read_text())['curves']
        first, last = curves[0]['expected_madds'], curves[-1]['expected_madds']
        assert first == pytest.approx(uniform, rel=1e-4)
        # the expected MAdds moved from uniform's towards the target, whichever side it lies on
        assert abs(last - target) < 0.7 * abs(first - target), (target, first, last)
        # the derived network is the most probable path within 2% of the target where one exists
        derived = spec_cost(load_spec(str(work / 'arch' / 'derived_final.yaml')), (64, 64), out_indices=(7, )).madds
        reachable = [cost.fixed_madds + sum(lc.madds[c] for lc, c in zip(table, path))
                     for path in itertools.product(*[range(len(lc.madds)) for lc in table])]
        if any(abs(m - target) <= 0.02 * target for m in reachable):
            assert abs(derived - target) <= 0.02 * target, (derived, target)


def test_whole_pipeline(fna_config, shapes_root, tmp_path):
    work = tmp_path / 'pipeline'
    log = _train(fna_config, work, shapes_root, **{'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
                                                    'fna.seed_baseline': True})
    summary = json.loads((work / 'summary.json').read_text())
    assert set(summary['networks']) == {'adapted', 'seed'}
    for net in summary['networks'].values():
        assert 'accuracy/top1' in net['metrics'] and net['madds'] > 0 and net['params'] > 0
    assert set(summary['times']) == {'arch', 'param', 'seed'}
    assert summary['networks']['adapted']['init'] == 'super'
    assert (work / 'summary.md').read_text().startswith('| network | MAdds | params | backbone MAdds | latency (ms) |')
    # the latency column: PyTorch on this machine, batch 1 at the cost input size, the default protocol
    for net in summary['networks'].values():
        lat = net['latency']
        assert lat['batch'] == 1 and lat['threads'] == 1 and lat['repeats'] == 20
        assert lat['input_hw'] == summary['cost_input_size']
        assert 0 < lat['min_ms'] <= lat['p10_ms'] <= lat['median_ms'] <= lat['p90_ms']
        assert f"{lat['median_ms']:.2f} (" in (work / 'summary.md').read_text()
    # the remapped checkpoint loads into the derived network with no missing or unexpected keys
    from mmadapt.models import DerivedMobileNetV2
    derived = load_spec(str(work / 'arch' / 'derived_final.yaml'))
    init = torch.load(work / 'param' / 'init.pth', map_location='cpu')
    backbone = {k[len('backbone.'):]: v for k, v in init['state_dict'].items() if k.startswith('backbone.')}
    DerivedMobileNetV2(spec=derived, out_indices=(7, )).load_state_dict(backbone, strict=True)
    assert 'head.fc.weight' in init['state_dict']  # the classifier comes from the super-net as it is
    assert 'missing keys' not in log and 'unexpected key' not in log


def test_resume_continues_exactly(fna_config, shapes_root, tmp_path):
    straight = tmp_path / 'straight'
    _train(fna_config, straight, shapes_root, '--stage', 'arch', **{'train_cfg.lam': 1.0})
    resumed = tmp_path / 'resumed'
    shutil.copytree(straight, resumed)
    arch = resumed / 'arch'
    for name in ('epoch_2.pth', 'epoch_3.pth', 'stage_done.json'):
        os.remove(arch / name)
    (arch / 'last_checkpoint').write_text(str(arch / 'epoch_1.pth'))
    log = _train(fna_config, resumed, shapes_root, '--stage', 'arch', '--resume', **{'train_cfg.lam': 1.0})
    assert 'resumed epoch: 1' in log
    a = torch.load(straight / 'arch' / 'epoch_3.pth', map_location='cpu')
    b = torch.load(arch / 'epoch_3.pth', map_location='cpu')
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for k in a['state_dict']:
        assert torch.equal(a['state_dict'][k], b['state_dict'][k]), k
    assert a['mmadapt_arch_adapt']['curves'] == b['mmadapt_arch_adapt']['curves']


def test_two_processes_hold_identical_architecture_parameters(fna_config, shapes_root, tmp_path):
    work = tmp_path / 'ddp'
    env = dict(os.environ, PYTHON=python(), PORT=str(29600 + os.getpid() % 1000), PYTHONWARNINGS='ignore',
               OMP_NUM_THREADS='1')
    proc = subprocess.run(['bash', tool('dist_train.sh'), fna_config, '2', '--work-dir', str(work), '--stage',
                           'arch', *_options(shapes_root, **{'train_cfg.lam': 1.0})], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    log = proc.stdout + proc.stderr
    assert 'architecture parameters identical on 2 ranks after epoch 3' in log
    r0 = torch.load(work / 'arch' / 'arch_params_rank0.pth')
    r1 = torch.load(work / 'arch' / 'arch_params_rank1.pth')
    assert all(torch.equal(a, b) for a, b in zip(r0, r1)) and any(a.abs().sum() > 0 for a in r0)


def test_random_baselines_bn_recalibration_and_given_spec(fna_config, shapes_root, tmp_path):
    variant = tmp_path / 'variant.py'
    variant.write_text(f"_base_ = '{fna_config}'\n"
                       "fna = dict(param=dict(bn_recalib=dict(iters=2, freeze=True)))\n")
    # random sampling (Table 16 row 7): one path of similar MAdds, parameters from the seed
    work = tmp_path / 'randsample'
    log = _train(str(variant), work, shapes_root, **{'fna.search.type': 'random_sample', 'fna.search.tolerance': 0.3})
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['search'] == 'random_sample' and summary['networks']['adapted']['init'] == 'seed'
    derived = load_spec(str(work / 'arch' / 'derived_final.yaml'))
    seed_madds = spec_cost(SEED, (64, 64)).madds
    assert abs(spec_cost(derived, (64, 64)).madds - seed_madds) <= 0.3 * seed_madds
    assert not (work / 'arch' / 'epoch_1.pth').exists()  # no search was run
    assert 'backbone BN layers recomputed over 2 batches; backbone BN frozen' in log
    # random search (Table 16 row 3): two candidates trained briefly, the better one adapted
    work = tmp_path / 'randsearch'
    _train(fna_config, work, shapes_root, **{'fna.search.type': 'random_search', 'fna.search.num_archs': 2,
                                             'fna.search.tolerance': 0.4})
    candidates = json.loads((work / 'arch' / 'random_candidates.json').read_text())
    assert len(candidates) == 2 and all(c['metric'] is not None for c in candidates)
    best = max(candidates, key=lambda c: c['metric'])
    assert load_spec(str(work / 'arch' / 'derived_final.yaml')).describe() == best['spec']
    # parameter adaptation alone, of a spec given by hand, from random initialisation
    from mmadapt.arch import dump_spec
    given = tmp_path / 'given.yaml'
    dump_spec(spec_from_dict(SEED), str(given))
    work = tmp_path / 'given'
    _train(fna_config, work, shapes_root, '--stage', 'param', '--derived-spec', str(given),
           **{'fna.param.init': 'random'})
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['networks']['adapted']['init'] == 'random' and 'arch' not in summary['times']


def test_fna_config_errors(fna_config):
    from mmengine.config import Config

    from mmadapt.engine.fna import FNAConfigError, fna_settings
    cfg = Config.fromfile(fna_config)
    cfg.fna.param.pop('train_cfg')
    with pytest.raises(FNAConfigError, match=r"fna.param: missing field 'train_cfg'"):
        fna_settings(cfg)
    cfg = Config.fromfile(fna_config)
    cfg.fna.search = dict(type='evolution')
    with pytest.raises(FNAConfigError, match=r"fna.search.type 'evolution' not allowed; allowed: \['diff', "):
        fna_settings(cfg)
    cfg = Config.fromfile(fna_config)
    cfg.model.backbone.type = 'mmadapt.DerivedMobileNetV2'
    with pytest.raises(FNAConfigError, match='model.backbone must be mmadapt.SuperMobileNetV2 or'):
        fna_settings(cfg)
    cfg = Config.fromfile(fna_config)
    cfg.fna.seed.checkpoint = None
    with pytest.raises(FNAConfigError, match=r"fna.seed: missing field 'checkpoint', needed by fna.arch.init='remap'"):
        fna_settings(cfg)
    cfg = Config.fromfile(fna_config)
    cfg.fna.latency = dict(repeats=0)
    with pytest.raises(FNAConfigError, match=r'fna.latency.repeats must be an integer >= 1, got 0'):
        fna_settings(cfg)
    cfg.fna.latency = dict(repeat=3)
    with pytest.raises(FNAConfigError, match=r"fna.latency: unknown field\(s\) \['repeat'\]"):
        fna_settings(cfg)
    cfg.fna.latency = None
    assert fna_settings(cfg)['latency'] is None
    assert spec_from_dict(SEED).is_derived
