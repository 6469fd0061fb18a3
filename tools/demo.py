#!/usr/bin/env python
"""The main job on the built-in data: FNA++ for RetinaNet-MobileNetV2 on shapes detection
(``--method network-adjustment``: Network Adjustment of ResNet-20 on shapes classification;
``--method dna``: DNA of MobileNetV2 to 60% of its MAdds on shapes classification;
``--method dsnet``: DS-Net, a dynamic slimmable MobileNetV1 on easy and hard shapes;
``--method netadaptv2``: NetAdaptV2 of a small MobileNetV2 to 60% of its measured CPU latency on shapes classification).

Pre-trains a MobileNetV2 seed on shapes classification, runs the whole FNA++ pipeline (search,
derivation, remapping, parameter adaptation, test) with the seed detector trained beside it, and
prints one table: MAdds, params, mAP of each detector, and whether the search converged. With
``--random-init`` it also trains the ablation of Table 13 (the found architecture from random
initialisation); ``benchmarks/fna_vs_seed.py`` runs that and the other controls over several seeds.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data] [--random-init]
    python tools/demo.py --method network-adjustment [--work-dir work_dirs/demo_na]
    python tools/demo.py --method dna [--work-dir work_dirs/demo_dna]
    python tools/demo.py --method dsnet [--work-dir work_dirs/demo_dsnet]
    python tools/demo.py --method netadaptv2 [--work-dir work_dirs/demo_netadaptv2]

Network Adjustment runs three rounds of ``configs/network_adjustment/resnet20_shapes.py`` (round 0 is
the uniform ResNet-20; each later round moves channels by FLOPs utilisation ratio and rescales to
the same MAdds), prints per round the MAdds, hold-out and test accuracy and the widths, then trains
the best round's network and the uniform one once more with another random seed, side by side.

DNA runs ``configs/dna/mobilenetv2_shapes.py``: the seed MobileNetV2 trained on shapes classification
at 32x32, DNA's search to 60% of its MAdds starting from it (warm-up, three rounds of the three
phases, the expected network), then the target, the seed and the uniformly scaled seed of the
target's MAdds trained alike from scratch; it prints their accuracy, MAdds and params and the
expected MAdds of every round.

DS-Net runs ``configs/dsnet/dsmbnet_l_shapes.py`` on shapes classification at 64x64 whose images are
easy (one large clean shape) or hard (a small, low-contrast, partly hidden shape among distractors):
Stage I (IEB) trains the supernet, its 4 routes' BN statistics are recalibrated, Stage II trains the
gate; it prints the dynamic network's accuracy, average MAdds and measured latency per image (batch
1, this CPU) beside every static route, and where the gate sends easy and hard images.

Each stage runs ``tools/train.py`` / ``tools/test.py`` as a user would; their full logs go to
``{work_dir}/<stage>.log``. The summary is printed and written to ``{work_dir}/summary.json`` and
``{work_dir}/summary.md``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmadapt.cost import format_count  # noqa: E402
from mmadapt.datasets.shapes import make_shapes  # noqa: E402
from mmadapt.utils.checkpoint import latest_checkpoint  # noqa: E402
from mmadapt.utils.data_check import data_root_options  # noqa: E402
from mmadapt.utils.fileio import atomic_write_text  # noqa: E402

CLS_CONFIG = osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py')
NA_CONFIG = osp.join(ROOT, 'configs/network_adjustment/resnet20_shapes.py')
DNA_CONFIG = osp.join(ROOT, 'configs/dna/mobilenetv2_shapes.py')
DSNET_CONFIG = osp.join(ROOT, 'configs/dsnet/dsmbnet_l_shapes.py')
FNA_CONFIG = osp.join(ROOT, 'configs/fna/retinanet_mbv2_shapes.py')
NAV2_CONFIG = osp.join(ROOT, 'configs/netadaptv2/mobilenetv2_tiny_shapes_latency.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--method', choices=['fna', 'network-adjustment', 'dna', 'dsnet', 'netadaptv2'], default='fna',
                        help='which method to run (default: FNA++, the main job)')
    parser.add_argument('--work-dir', default=None, help='where results go (default: work_dirs/demo, '
                        'work_dirs/demo_na for network-adjustment, work_dirs/demo_dna for dna, work_dirs/demo_dsnet for dsnet, '
                        'work_dirs/demo_netadaptv2 for netadaptv2)')
    parser.add_argument('--data-root', default='data', help='where the shapes data sets go')
    parser.add_argument('--random-init', action='store_true',
                        help='also train the found architecture from random initialisation (Table 13)')
    return parser.parse_args(argv)


def log(msg):
    print(f'[demo {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def ensure_data(task, out, num_train, num_val, size, difficulty=None):
    """Generate a shapes set unless one with the same arguments is already there."""
    meta_path = osp.join(out, 'meta.json')
    want = dict(task=task, num_train=num_train, num_val=num_val, size=size, seed=0, difficulty=difficulty)
    if osp.isfile(meta_path):
        with open(meta_path, encoding='utf-8') as f:
            meta = json.load(f)
        if all(meta.get(k) == v for k, v in want.items()):
            log(f'data: {out} is up to date')
            return
    start = time.time()
    make_shapes(task, out, num_train, num_val, size, seed=0, overwrite=True, difficulty=difficulty)
    log(f'data: wrote {out} ({num_train} train + {num_val} val, {time.time() - start:.1f}s)')


def run_stage(name, cmd, work_dir):
    """Run one tools/*.py command, its output to {work_dir}/{name}.log; return seconds taken.

    The log is written as the command runs (follow it with ``tail -f``); it is a log, not a result, so
    it is not staged in a temporary file as the summaries are."""
    log_path = osp.join(work_dir, f'{name}.log')
    log(f'{name}: {" ".join(osp.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)}')
    start = time.time()
    with open(log_path, 'w', encoding='utf-8') as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=os.getcwd())
    seconds = time.time() - start
    if proc.returncode != 0:
        with open(log_path, encoding='utf-8') as f:
            tail = f.read()[-3000:]
        raise SystemExit(f'{name} failed (exit {proc.returncode}); last lines of {log_path}:\n'
                         f'{tail}')
    log(f'{name}: done in {seconds:.0f}s (log: {log_path})')
    return seconds


def read_results(stage_dir):
    with open(osp.join(stage_dir, 'results.json'), encoding='utf-8') as f:
        return json.load(f)


def last_checkpoint(stage_dir):
    """The absolute path of the last checkpoint of a finished run (``last_checkpoint`` may be relative)."""
    path = latest_checkpoint(stage_dir)
    if path is None:
        raise SystemExit(f'{stage_dir} has no checkpoint (no last_checkpoint file)')
    return path


def search_report(path):
    """One line on whether the search converged: the architecture distribution's mean entropy against a
    uniform distribution's (as the search wrote them), and the expected MAdds at the first and last
    iteration."""
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        record = json.load(f)
    mean_h, mean_u = record['entropy'], record['uniform_entropy']
    first, last = record['curves'][0]['expected_madds'], record['curves'][-1]['expected_madds']
    if mean_h < 0.5 * mean_u:
        verdict = 'converged'
    elif mean_h < 0.9 * mean_u:
        verdict = 'partly converged: the distribution left uniform but is not concentrated'
    else:
        verdict = 'not converged: the derived network is close to the argmax of a nearly uniform distribution'
    return (f'search: mean entropy of the architecture distribution {mean_h:.3f} (uniform {mean_u:.3f}; '
            f'{verdict}); expected backbone MAdds {first / 1e6:.2f}M -> {last / 1e6:.2f}M')


def write_summary(work_dir, record, md):
    """``summary.json`` (``record``) and ``summary.md`` (the lines ``md``) in ``work_dir``, printed."""
    atomic_write_text(osp.join(work_dir, 'summary.json'), json.dumps(record, indent=1, default=str) + '\n')
    atomic_write_text(osp.join(work_dir, 'summary.md'), '\n'.join(md) + '\n')
    print()
    print('\n'.join(md))
    print()
    log(f'summary: {osp.join(work_dir, "summary.md")}')


def mixed_shapes(args, work_dir, size):
    """Make the work dir and the shapes classification data with easy and hard images (2000 + 400 at
    ``size``); the --cfg-options that point a config at it."""
    os.makedirs(work_dir, exist_ok=True)
    root = osp.join(args.data_root, f'shapes_cls{size}_mixed')
    ensure_data('cls', root, 2000, 400, size, difficulty='mixed')
    return [f'{k}={v}' for k, v in data_root_options(root).items()]


def shapes_cls32(args, work_dir):
    """Make the work dir and the 32x32 shapes classification data (2000 + 400 images); the
    --cfg-options that point a config at it."""
    os.makedirs(work_dir, exist_ok=True)
    root = osp.join(args.data_root, 'shapes_cls32')
    ensure_data('cls', root, 2000, 400, 32)
    return [f'{k}={v}' for k, v in data_root_options(root).items()]


def network_adjustment(args, work_dir):
    """Network Adjustment of ResNet-20 on shapes classification, and the re-trained comparison."""
    total_start = time.time()
    opts = shapes_cls32(args, work_dir)
    py = sys.executable
    na_dir = osp.join(work_dir, 'search')
    run_stage('search', [py, osp.join(ROOT, 'tools/train.py'), NA_CONFIG, '--work-dir', na_dir,
                         '--cfg-options'] + opts, work_dir)
    with open(osp.join(na_dir, 'summary.json'), encoding='utf-8') as f:
        na = json.load(f)
    key = na['select_metric']
    md = ['Network Adjustment, ResNet-20 (CIFAR form) on shapes classification 32x32, 4 classes',
          f"target {format_count(na['target'])} MAdds; hold-out = 400 training images; test = the 400 val images", '',
          '| round | MAdds | vs target | hold-out top-1 | test top-1 | grown | shrunk | widths |',
          '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for r in na['rounds']:
        adj = r.get('adjustment') or {}
        best = ' (best)' if r['round'] == na['best_round'] else ''
        md.append(f"| {r['round']}{best} | {format_count(r['cost'])} | {r['cost_error']:+.2%} | "
                  f"{r['holdout'].get(key, 0):.2f} | {r['test'].get(key, 0):.2f} | {' '.join(adj.get('top', [])) or '-'} | "
                  f"{' '.join(adj.get('bottom', [])) or '-'} | {' '.join(map(str, r['widths']))} |")
    # the searched network against the uniform one of equal MAdds, both trained again with another seed
    rows = []
    for title, spec in (('uniform (round 0)', osp.join(na_dir, 'round_0', 'spec.yaml')),
                        (f"searched (round {na['best_round']})", osp.join(na_dir, 'best_spec.yaml'))):
        name = 'retrain_uniform' if 'uniform' in title else 'retrain_searched'
        rdir = osp.join(work_dir, name)
        run_stage(name, [py, osp.join(ROOT, 'tools/train.py'), NA_CONFIG, '--work-dir', rdir, '--cfg-options'] + opts +
                  [f'model.backbone.spec={spec}', 'network_adjustment.rounds=1', 'randomness.seed=1'], work_dir)
        with open(osp.join(rdir, 'summary.json'), encoding='utf-8') as f:
            r = json.load(f)['rounds'][0]
        rows.append((title, r))
    md += ['', 'Trained again with another random seed (same schedule, same hold-out split):', '',
           '| network | MAdds | hold-out top-1 | test top-1 |', '| --- | --- | --- | --- |']
    for title, r in rows:
        md.append(f"| {title} | {format_count(r['cost'])} | {r['holdout'].get(key, 0):.2f} | "
                  f"{r['test'].get(key, 0):.2f} |")
    total = time.time() - total_start
    md += ['', f'total {total:.0f} s; rounds, FUR and specs under {na_dir}']
    write_summary(work_dir, dict(search=na, retrained={t: r for t, r in rows}, total_seconds=round(total, 1)), md)


def dna(args, work_dir):
    """DNA of MobileNetV2 to 60% of its MAdds on shapes classification: seed vs DNA vs uniform."""
    total_start = time.time()
    opts = shapes_cls32(args, work_dir)
    run_dir = osp.join(work_dir, 'dna')
    run_stage('dna', [sys.executable, osp.join(ROOT, 'tools/train.py'), DNA_CONFIG, '--work-dir', run_dir,
                      '--cfg-options'] + opts, work_dir)
    with open(osp.join(run_dir, 'summary.json'), encoding='utf-8') as f:
        summary = json.load(f)
    key = summary['metric']
    seed = summary['seed_madds']
    md = ['DNA, MobileNetV2 1.0 on shapes classification 32x32 (4 classes, 2000 training images; test = the 400 '
          'val images)', f"budget {format_count(summary['budget'])} MAdds = {summary['budget'] / seed:.0%} of the "
          f"seed's {format_count(seed)}; every network trained from scratch with the same recipe", '',
          f'| network | MAdds | vs seed | params | test {key} |', '| --- | --- | --- | --- | --- |']
    labels = dict(seed='seed MobileNetV2', dna='DNA (expected network)', uniform='uniformly scaled seed')
    for k, r in summary['rows'].items():
        label = labels.get(k, k) + (f" (x{r['factor']:.3f})" if k == 'uniform' else '')
        md.append(f"| {label} | {format_count(r['madds'])} | {r['madds'] / seed:.1%} | {format_count(r['params'])} | "
                  f"{(r['test'] or r['val']).get(key, float('nan')):.2f} |")
    md += ['', '| round | E[MAdds] before phase 2 | after | network after phase 3 | moves |', '| --- | --- | --- | --- | --- |']
    for r in summary['rounds']:
        md.append(f"| {r['round']} | {format_count(r['expected_madds_start'])} | {format_count(r['expected_madds'])} | "
                  f"{format_count(r['madds'])} ({r['derive']}) | {r['moves']['summary']} |")
    total = time.time() - total_start
    md += ['', f'total {total:.0f} s; rounds (specs, pictures) under {osp.join(run_dir, "search", "rounds")}']
    write_summary(work_dir, dict(dna=summary, total_seconds=round(total, 1)), md)


def dsnet(args, work_dir):
    """DS-Net on easy and hard shapes: the dynamic network vs its static routes."""
    total_start = time.time()
    opts = mixed_shapes(args, work_dir, 64)
    run_dir = osp.join(work_dir, 'dsnet')
    run_stage('dsnet', [sys.executable, osp.join(ROOT, 'tools/train.py'), DSNET_CONFIG, '--work-dir', run_dir,
                        '--cfg-options'] + opts, work_dir)
    with open(osp.join(run_dir, 'dsnet', 'summary.json'), encoding='utf-8') as f:
        summary = json.load(f)
    rows = summary['rows']
    dyn = rows['dynamic']
    md = ['DS-Net, a dynamic slimmable MobileNetV1 (4 routes) on shapes classification 64x64, half the images easy and '
          'half hard (2000 training images; the 400 val images)',
          f"Stage I {summary['stage1_epochs']} epochs (IEB), Stage II {summary['stage2_epochs']} epochs (gate, SGS "
          f"'{summary['sgs']}'); latency: median per image at batch 1 on this machine ({summary['threads']} threads)", '',
          '| network | top-1 (%) | MAdds | latency (ms) |', '| --- | --- | --- | --- |']
    for k, r in rows.items():
        label = 'dynamic (gate)' if k == 'dynamic' else f'static route {k}'
        md.append(f"| {label} | {r['accuracy']:.2f} | {format_count(r['madds'])} | {r['latency_ms']:.2f} |")
    eq = summary.get('static_at_dynamic_madds')
    if eq:
        lat = f", {eq['latency_ms']:.2f} ms" if eq.get('latency_ms') is not None else ''
        md += ['', f"static routes interpolated at the dynamic network's {format_count(eq['madds'])} MAdds: "
                   f"{eq['accuracy']:.2f}%{lat}"]
    md += ['', f"routes taken (share of val images): {dyn['route_share']}"]
    for name, k in dyn.get('by_difficulty', {}).items():
        md.append(f"{name} images: top-1 {k['accuracy']:.2f}%, {format_count(k['madds'])} MAdds on average, "
                  f"{k['slimmest_share']:.0%} on the slimmest route")
    total = time.time() - total_start
    md += ['', f'total {total:.0f} s; summary, curve.png under {osp.join(run_dir, "dsnet")}']
    write_summary(work_dir, dict(dsnet=summary, total_seconds=round(total, 1)), md)


def netadaptv2(args, work_dir):
    """NetAdaptV2 of a small MobileNetV2 to 60% of its measured latency on this CPU: initial vs found network."""
    total_start = time.time()
    opts = mixed_shapes(args, work_dir, 32)
    run_dir = osp.join(work_dir, 'netadaptv2')
    run_stage('netadaptv2', [sys.executable, osp.join(ROOT, 'tools/train.py'), NAV2_CONFIG, '--work-dir', run_dir,
                             '--cfg-options'] + opts, work_dir)
    with open(osp.join(run_dir, 'summary.json'), encoding='utf-8') as f:
        summary = json.load(f)
    search, rows = summary['search'], summary['rows']
    md = ['NetAdaptV2, a small MobileNetV2 on shapes classification 32x32, half the images easy and half hard (4 '
          'classes, 2000 training images of which 400 held out for the search; test = the 400 val images)',
          f"budget {summary['budget']:.3f} ms = 60% of the initial network's measured latency (batch 1, 1 thread, this "
          f"CPU); search: {search['iterations']} iterations, {search['samples']} samples, {search['seconds']:.0f} s", '',
          '| network | test top-1 (%) | MAdds | predicted ms | measured ms | prediction error |',
          '| --- | --- | --- | --- | --- | --- |']
    for key in ('seed', 'found'):
        if key not in rows:
            continue
        r = rows[key]
        metrics = r['test'] or r['val']
        acc = next((v for k, v in metrics.items() if 'top1' in k), float('nan'))
        pred, meas = r['latency_predicted'], r['latency_measured']
        md.append(f"| {'initial network' if key == 'seed' else 'NetAdaptV2 (found)'} | {acc:.2f} | "
                  f"{format_count(r['backbone_madds'] or r['model_madds'])} | {pred:.3f} | {meas:.3f} | "
                  f"{100 * (pred - meas) / meas:+.1f}% |")
    total = time.time() - total_start
    md += ['', f"found: `{rows['found']['describe']}`",
           '', f'total {total:.0f} s; trajectory.json / trajectory.png under {osp.join(run_dir, "search")}']
    write_summary(work_dir, dict(netadaptv2=summary, total_seconds=round(total, 1)), md)


def main(argv=None):
    args = parse_args(argv)
    if args.method == 'netadaptv2':
        return netadaptv2(args, osp.abspath(args.work_dir or 'work_dirs/demo_netadaptv2'))
    if args.method == 'network-adjustment':
        return network_adjustment(args, osp.abspath(args.work_dir or 'work_dirs/demo_na'))
    if args.method == 'dna':
        return dna(args, osp.abspath(args.work_dir or 'work_dirs/demo_dna'))
    if args.method == 'dsnet':
        return dsnet(args, osp.abspath(args.work_dir or 'work_dirs/demo_dsnet'))
    total_start = time.time()
    work_dir = osp.abspath(args.work_dir or 'work_dirs/demo')
    os.makedirs(work_dir, exist_ok=True)
    cls_root = osp.join(args.data_root, 'shapes_cls')
    det_root = osp.join(args.data_root, 'shapes_det')
    ensure_data('cls', cls_root, 4000, 400, 64)
    ensure_data('det', det_root, 800, 100, 128)

    def data_options(root):
        return [f'{k}={v}' for k, v in data_root_options(root).items()]

    py = sys.executable
    seed_dir = osp.join(work_dir, 'seed_cls')
    det_ann = osp.join(det_root, 'annotations', 'val.json')
    det_opts = data_options(det_root) + [
        f'val_evaluator.ann_file={det_ann}', f'test_evaluator.ann_file={det_ann}']
    times = {}

    # 1. the seed: MobileNetV2 pre-trained on shapes classification
    times['seed'] = run_stage('seed_cls', [
        py, osp.join(ROOT, 'tools/train.py'), CLS_CONFIG, '--work-dir', seed_dir,
        '--cfg-options'] + data_options(cls_root), work_dir)
    seed_ckpt = last_checkpoint(seed_dir)
    seed_top1 = read_results(seed_dir)['val'][-1]['metrics']['accuracy/top1']

    # 2. FNA++ for RetinaNet-MobileNetV2: search, derive, remap, adapt; the seed detector beside it
    fna_dir = osp.join(work_dir, 'fna')
    fna_opts = det_opts + [f'fna.seed.checkpoint={seed_ckpt}']
    times['fna'] = run_stage('fna', [
        py, osp.join(ROOT, 'tools/train.py'), FNA_CONFIG, '--work-dir', fna_dir, '--cfg-options'
    ] + fna_opts + ['fna.seed_baseline=True'], work_dir)
    with open(osp.join(fna_dir, 'summary.json'), encoding='utf-8') as f:
        fna = json.load(f)
    derived_spec = osp.join(fna_dir, 'arch', 'derived_final.yaml')

    nets = [('RetinaNet-MobileNetV2 seed (from the shapes seed)', fna['networks']['seed'],
             fna['times'].get('seed')),
            ('FNA++ RetinaNet (search, remap from the super-net)', fna['networks']['adapted'],
             fna['times'].get('arch', 0) + fna['times'].get('param', 0))]
    rand = None
    if args.random_init:
        # 3. the ablation of Table 13: the same architecture, parameters from random initialisation
        rand_dir = osp.join(work_dir, 'fna_random_init')
        times['random_init'] = run_stage('fna_random_init', [
            py, osp.join(ROOT, 'tools/train.py'), FNA_CONFIG, '--work-dir', rand_dir, '--stage', 'param',
            '--derived-spec', derived_spec, '--cfg-options'] + fna_opts + ['fna.param.init=random'], work_dir)
        with open(osp.join(rand_dir, 'summary.json'), encoding='utf-8') as f:
            rand = json.load(f)
        nets.append(('same architecture, random initialisation', rand['networks']['adapted'],
                     rand['times'].get('param')))
    md = [f'MobileNetV2 seed on shapes classification: top-1 {seed_top1:.2f}% ({times["seed"]:.0f} s)', '',
          '| detector | MAdds | params | mAP | AP50 | time |', '| --- | --- | --- | --- | --- | --- |']
    for title, net, seconds in nets:
        m = net['metrics']
        md.append(f"| {title} | {format_count(net['madds'])} | {format_count(net['params'])} | "
                  f"{m.get('coco/bbox_mAP', 0.0):.3f} | {m.get('coco/bbox_mAP_50', 0.0):.3f} | "
                  f"{seconds or 0:.0f} s |")
    gap = fna['networks']['adapted']['madds'] / fna['networks']['seed']['madds'] - 1
    md += ['', f"MAdds at {fna['cost_input_size'][0]}x{fna['cost_input_size'][1]} (whole detector; FNA++ "
           f"{gap:+.1%} against the seed); FNA++ search {fna['times'].get('arch', 0):.0f} s, parameter adaptation "
           f"{fna['times'].get('param', 0):.0f} s", '', f"derived architecture: {fna['derived_spec']}"]
    search = search_report(osp.join(fna_dir, 'arch', 'search_curves.json'))
    if search:
        md += ['', search]
    summary = dict(seed_classifier=dict(top1=seed_top1, checkpoint=seed_ckpt, seconds=round(times['seed'], 1)),
                   fna=fna, random_init=rand, total_seconds=round(time.time() - total_start, 1),
                   work_dir=work_dir)
    atomic_write_text(osp.join(work_dir, 'summary.json'), json.dumps(summary, indent=2) + '\n')
    atomic_write_text(osp.join(work_dir, 'summary.md'), '\n'.join(md) + '\n')
    print()
    print('\n'.join(md))
    print()
    log(f'total {summary["total_seconds"]:.0f}s; summary: {osp.join(work_dir, "summary.md")} '
        f'and summary.json; logs, specs, pictures and checkpoints under {work_dir}')


if __name__ == '__main__':
    main()
