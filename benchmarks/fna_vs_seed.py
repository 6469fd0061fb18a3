#!/usr/bin/env python
"""FNA++ against the seed detector on the built-in shapes detection task, with controls.

Every row trains RetinaNet detectors with the same parameter-adaptation schedule
(``configs/fna/retinanet_mbv2_shapes.py``), each through ``tools/train.py`` as a user runs it, and
the table gives mean and standard deviation over the random seeds (``randomness.seed``) of each row:

========================  ==========================================================================
row                       what it trains
========================  ==========================================================================
``seed``                  the seed network (MobileNetV2), initialised from the seed checkpoint
``fna``                   FNA++: search from the remapped super-net, derive, parameters from the
                          super-net (``param.init='super'``)
``random``                a random path of the search space within 5% of the seed's MAdds, from the
                          seed (Table 16, random sampling); one path per random seed
``seed_arch_super``       the seed's own architecture expressed in the search space, parameters
                          collected from the searched super-net: the super-net's weights without the
                          found architecture
``found_seed``            the found architecture (of the first ``fna`` run) remapped from the seed
                          (Table 13)
``found_random``          the found architecture from random initialisation (Table 13)
========================  ==========================================================================

Usage::

    python benchmarks/fna_vs_seed.py [--work-dir work_dirs/fna_vs_seed] [--data-root data]
        [--seeds 0 1 2] [--control-seeds 0] [--rows seed fna random seed_arch_super found_seed found_random]
        [--seed-checkpoint CKPT] [--num-train 800] [--cfg-options k=v ...]

``--seeds`` are the random seeds of the ``seed`` and ``fna`` rows; ``--control-seeds`` (default: the
same) those of the other rows, which cost as much each and can run over fewer seeds when time is short.

``--cfg-options`` go to every run (e.g. ``train_cfg.lam=0.2`` or a longer schedule), so one change
at a time can be measured. Without ``--seed-checkpoint`` the MobileNetV2 seed is first trained on
shapes classification (``configs/baselines/mobilenetv2_shapes_cls.py``). Runs already finished in the
work dir are reused (delete a row's folder to rerun it). The table is printed and written to
``{work_dir}/table.md`` and ``table.json``.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.demo import ensure_data, last_checkpoint, log, run_stage  # noqa: E402

from mmadapt.arch import dump_spec, load_spec, path_of, path_spec  # noqa: E402
from mmadapt.cost import format_count  # noqa: E402
from mmadapt.utils.data_check import data_root_options  # noqa: E402
from mmadapt.utils.fileio import atomic_write_text  # noqa: E402

CLS_CONFIG = osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py')
FNA_CONFIG = osp.join(ROOT, 'configs/fna/retinanet_mbv2_shapes.py')
ROWS = ('seed', 'fna', 'random', 'seed_arch_super', 'found_seed', 'found_random')
TITLES = dict(seed='seed network (MobileNetV2), from the seed', fna='FNA++ (search, parameters from the super-net)',
              random='random path of similar MAdds, from the seed', seed_arch_super="seed's architecture, "
              'parameters from the searched super-net', found_seed='found architecture, from the seed',
              found_random='found architecture, random initialisation')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/fna_vs_seed')
    parser.add_argument('--data-root', default='data')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--control-seeds', type=int, nargs='+',
                        help='random seeds of the rows other than seed and fna (default: --seeds)')
    parser.add_argument('--rows', nargs='+', choices=ROWS, default=list(ROWS))
    parser.add_argument('--seed-checkpoint', help='MobileNetV2 seed (default: train one on shapes classification)')
    parser.add_argument('--cfg-options', nargs='+', default=[], help='key=value for every run')
    parser.add_argument('--num-train', type=int, default=800,
                        help='training images of the shapes detection set (the demo uses 800)')
    return parser.parse_args(argv)


def _summary(run_dir):
    path = osp.join(run_dir, 'summary.json')
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def _stats(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main(argv=None):
    args = parse_args(argv)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    det_root = osp.join(args.data_root, 'shapes_det' if args.num_train == 800 else f'shapes_det_{args.num_train}')
    ensure_data('det', det_root, args.num_train, 100, 128)
    det_ann = osp.join(det_root, 'annotations', 'val.json')
    py = sys.executable
    seed_ckpt = args.seed_checkpoint
    if seed_ckpt is None:
        cls_root = osp.join(args.data_root, 'shapes_cls')
        ensure_data('cls', cls_root, 4000, 400, 64)
        seed_dir = osp.join(work_dir, 'seed_cls')
        if latest_checkpoint_or_none(seed_dir) is None:
            run_stage('seed_cls', [py, osp.join(ROOT, 'tools/train.py'), CLS_CONFIG, '--work-dir', seed_dir,
                                   '--cfg-options'] + [f'{k}={v}' for k, v in data_root_options(cls_root).items()],
                      work_dir)
        seed_ckpt = last_checkpoint(seed_dir)
    common = [f'{k}={v}' for k, v in data_root_options(det_root).items()] + [
        f'val_evaluator.ann_file={det_ann}', f'test_evaluator.ann_file={det_ann}',
        f'fna.seed.checkpoint={seed_ckpt}'] + list(args.cfg_options)

    def train(name, extra, *flags):
        run_dir = osp.join(work_dir, name)
        if _summary(run_dir) is None or not _finished(run_dir, flags):
            run_stage(name, [py, osp.join(ROOT, 'tools/train.py'), FNA_CONFIG, '--work-dir', run_dir, *flags,
                             '--resume', '--cfg-options'] + common + extra, work_dir)
        return run_dir

    runs = {row: [] for row in args.rows}
    control_seeds = args.seeds if args.control_seeds is None else args.control_seeds
    t0 = time.time()
    for s in args.seeds:
        rs = [f'randomness.seed={s}']
        if 'seed' in args.rows:
            runs['seed'].append(('seed', train(f'seed_s{s}', rs + ['fna.seed_baseline=True'], '--stage', 'seed')))
        if {'fna', 'seed_arch_super', 'found_seed', 'found_random'} & set(args.rows):
            runs.setdefault('fna', []).append(('adapted', train(f'fna_s{s}', rs)))
        if 'random' in args.rows and s in control_seeds:
            runs['random'].append(('adapted', train(f'random_s{s}', rs + ['fna.search.type=random_sample',
                                                                         f'fna.search.seed={s}'])))
    if {'seed_arch_super', 'found_seed', 'found_random'} & set(args.rows):
        first = runs['fna'][0][1]
        found = osp.join(first, 'arch', 'derived_final.yaml')
        from mmengine.config import Config
        space = load_spec(Config.fromfile(FNA_CONFIG).model.backbone.spec)
        seed_in_space = osp.join(work_dir, 'seed_in_space.yaml')
        dump_spec(path_spec(space, path_of(space, load_spec('mobilenet_v2')), name='mobilenet_v2_in_space'),
                  seed_in_space)
        for s in control_seeds:
            rs = [f'randomness.seed={s}']
            if 'seed_arch_super' in args.rows:
                run_dir = osp.join(work_dir, f'seed_arch_super_s{s}')
                if not osp.isdir(osp.join(run_dir, 'arch')):  # the searched super-net of the first FNA++ run
                    shutil.copytree(osp.join(first, 'arch'), osp.join(run_dir, 'arch'))
                runs['seed_arch_super'].append(('adapted', train(
                    f'seed_arch_super_s{s}', rs + ['fna.param.init=super'], '--stage', 'param',
                    '--derived-spec', seed_in_space)))
            for row, init in (('found_seed', 'seed'), ('found_random', 'random')):
                if row in args.rows:
                    runs[row].append(('adapted', train(f'{row}_s{s}', rs + [f'fna.param.init={init}'],
                                                       '--stage', 'param', '--derived-spec', found)))
    table = []
    for row in args.rows:
        nets = [(_summary(d) or {}).get('networks', {}).get(key) for key, d in runs.get(row, [])]
        nets = [n for n in nets if n]
        maps = [n['metrics'].get('coco/bbox_mAP') for n in nets]
        ap50 = [n['metrics'].get('coco/bbox_mAP_50') for n in nets]
        madds = [n['madds'] for n in nets]
        table.append(dict(row=row, title=TITLES[row], runs=len(nets), madds=_stats(madds)[0],
                          madds_range=[min(madds), max(madds)] if madds else None,
                          map=_stats(maps), ap50=_stats(ap50), specs=[n['spec'] for n in nets]))
    md = ['| row | runs | MAdds | mAP (mean ± std) | AP50 (mean ± std) |', '| --- | --- | --- | --- | --- |']
    for r in table:
        fmt = (lambda st: '-' if st[0] is None else f'{st[0]:.3f} ± {st[1]:.3f}')  # noqa: E731
        madds = '-' if r['madds'] is None else format_count(r['madds'])
        md.append(f"| {r['title']} | {r['runs']} | {madds} | {fmt(r['map'])} | {fmt(r['ap50'])} |")
    md += ['', f'random seeds {args.seeds} (control rows: {control_seeds}); options {args.cfg_options or "-"}; {time.time() - t0:.0f} s',
           f'MAdds of the whole detector at the config\'s cost_input_size']
    search = search_report([d for _, d in runs.get('fna', [])])
    if search:
        md += ['', '| FNA++ search | entropy / uniform | expected backbone MAdds (first -> last) |',
               '| --- | --- | --- |']
        md += [f"| {osp.basename(r['run'])} | {r['entropy']:.3f} / {r['uniform_entropy']:.3f} | "
               f"{format_count(r['expected_first'])} -> {format_count(r['expected_last'])} |" for r in search['runs']]
        if search['agreement'] is not None:
            md += ['', f"found architectures, pairwise: {search['agreement']:.1%} of the searchable layers take the "
                   f"same candidate (chance: {search['chance']:.1%}, two uniform draws)"]
    atomic_write_text(osp.join(work_dir, 'table.json'), json.dumps(dict(rows=table, search=search), indent=2) + '\n')
    atomic_write_text(osp.join(work_dir, 'table.md'), '\n'.join(md) + '\n')
    print('\n'.join(md))


def search_report(fna_dirs):
    """Per FNA++ run: how far the search left uniform; across runs: how often two searches agree."""
    from mmengine.config import Config
    space = load_spec(Config.fromfile(FNA_CONFIG).model.backbone.spec)
    runs, paths = [], []
    for d in fna_dirs:
        curves_path, derived_path = osp.join(d, 'arch', 'search_curves.json'), osp.join(d, 'arch', 'derived_final.yaml')
        if not (osp.isfile(curves_path) and osp.isfile(derived_path)):
            continue
        with open(curves_path, encoding='utf-8') as f:
            record = json.load(f)
        curves = record['curves']
        runs.append(dict(run=d, entropy=record['entropy'], uniform_entropy=record['uniform_entropy'],
                         expected_first=curves[0]['expected_madds'], expected_last=curves[-1]['expected_madds']))
        paths.append(path_of(space, load_spec(derived_path)))
    if not runs:
        return None
    sizes = [len(info.candidates) for info in space.searchable_layers()]
    pairs = [(a, b) for i, a in enumerate(paths) for b in paths[i + 1:]]
    agreement = (statistics.mean(sum(x == y for x, y in zip(a, b)) / len(a) for a, b in pairs) if pairs else None)
    return dict(runs=runs, agreement=agreement, chance=statistics.mean(1 / n for n in sizes))


def latest_checkpoint_or_none(run_dir):
    from mmadapt.utils.checkpoint import latest_checkpoint
    return latest_checkpoint(run_dir) if osp.isdir(run_dir) else None


def _finished(run_dir, flags):
    stage = flags[flags.index('--stage') + 1] if '--stage' in flags else 'all'
    needed = {'all': ('arch', 'param'), 'param': ('param', ), 'seed': ('seed', )}[stage]
    return all(osp.isfile(osp.join(run_dir, st, 'stage_done.json')) for st in needed)


if __name__ == '__main__':
    main()
