#!/usr/bin/env python
"""Do MAdds savings turn into time? The demo's adapted and seed detectors in PyTorch and ONNX Runtime.

    python benchmarks/deploy_latency.py [--work-dir work_dirs/demo] [--threads 1] [--repeats 50]
                                        [--warmup 10] [--shape H W] [--out DIR]
    python benchmarks/deploy_latency.py --seed CONFIG CKPT --adapted CONFIG CKPT --out DIR   # any pair

Reads the FNA++ demo's work dir (``make demo`` first): the seed RetinaNet (``fna/seed``) and the
adapted one (``fna/param``), each stage's dumped config and last checkpoint. Each is exported with
``tools/deploy.py``'s export (checked against PyTorch on two val images) into ``--out`` (default
``<work-dir>/deploy``); then, in one run, with every callable of both networks timed alternately (the
order flipped every round, so the machine's noise hits all alike):

- ``pytorch``: the detector's own inference (``mode='predict'``: network, box decoding, NMS);
- ``pytorch_net``: the network alone (``mode='tensor'``), what the MAdds count;
- ``onnxruntime``: the exported graph (network, decoding and ONNX NMS) in ONNX Runtime;

and prints the latency of each, and the ratio adapted / seed of latency beside the ratio of MAdds
(whole detector and backbone, at the input size measured). Written also to ``<out>/deploy_latency.json``
and ``.md``. ``--seed`` / ``--adapted`` give any other pair of model configs and checkpoints (e.g. the
initial and the found network of ``tools/demo.py --method netadaptv2``). Requires the deployment extra
(``make install-deploy``).
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

BACKENDS = ('pytorch', 'pytorch_net', 'onnxruntime')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'), help='the FNA++ demo work dir')
    p.add_argument('--out', help='export folder (default: <work-dir>/deploy)')
    p.add_argument('--seed', nargs=2, metavar=('CONFIG', 'CKPT'), help='the reference network (default: the demo\'s)')
    p.add_argument('--adapted', nargs=2, metavar=('CONFIG', 'CKPT'), help='the adapted network (default: the demo\'s)')
    p.add_argument('--img', nargs='+', help='images to check on and time with (default: the test set\'s)')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--repeats', type=int, default=50)
    p.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                   help='input image size (default: the test pipeline\'s, i.e. the demo\'s val images)')
    return p.parse_args(argv)


def stage_model(stage_dir):
    """(config, checkpoint) of a finished pipeline stage: the config the Runner dumped, its last checkpoint."""
    from mmadapt.utils.checkpoint import latest_checkpoint
    configs = sorted(glob.glob(osp.join(stage_dir, '*.py')))
    ckpt = latest_checkpoint(stage_dir)
    if not configs or ckpt is None:
        raise SystemExit(f'{stage_dir}: no finished stage (config and checkpoint); run `make demo` first')
    return configs[0], ckpt


def main(argv=None):
    args = parse_args(argv)
    import torch

    from mmadapt.cost import format_count
    from mmadapt.cost.config_cost import count_config
    from mmadapt.cost.latency import alternate_times, num_threads
    from mmadapt.deploy import DeployError, export_onnx
    from mmadapt.deploy.latency import latency_case, rows_of
    from mmadapt.utils.fileio import atomic_write_text
    if (args.seed is None) != (args.adapted is None):
        raise SystemExit('error: give both --seed and --adapted, or neither (the demo\'s detectors)')
    if args.seed:
        nets = dict(seed=tuple(args.seed), adapted=tuple(args.adapted))
        title = 'seed and adapted networks'
    else:
        fna_dir = osp.join(args.work_dir, 'fna')
        if not osp.isfile(osp.join(fna_dir, 'summary.json')):
            raise SystemExit(f'{fna_dir}/summary.json not found: run `make demo` (FNA++ with the seed baseline) first')
        nets = dict(seed=stage_model(osp.join(fna_dir, 'seed')), adapted=stage_model(osp.join(fna_dir, 'param')))
        title = 'FNA++ demo detectors (RetinaNet)'
    out = args.out or osp.join(args.work_dir, 'deploy')
    os.makedirs(out, exist_ok=True)
    start = time.time()
    cases, exports = {}, {}
    try:
        for key, (config, ckpt) in nets.items():
            opts = dict(shape=args.shape) if args.shape else {}
            report = export_onnx(config, ckpt, osp.join(out, key), num_images=2, img=args.img, **opts)
            exports[key] = report
            print(f"{key}: exported {report['onnx']}; check: " + '; '.join(
                ', '.join(f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}' for k, v in c.items()
                          if k not in ('image', 'ok')) for c in report['checks']), flush=True)
            cases[key] = latency_case(config, ckpt, onnx=report['onnx'], shape=args.shape, batch=args.batch,
                                      threads=args.threads, backends=BACKENDS, img=args.img and args.img[0])
    except DeployError as e:
        raise SystemExit(f'error: {e}')
    fns = {f'{key}/{b}': fn for key, case in cases.items() for b, fn in case.fns.items()}
    with num_threads(args.threads), torch.no_grad():
        times = alternate_times(fns, args.repeats, 'cpu', args.warmup)
    for case in cases.values():
        case.close()
    rows = {key: rows_of({b: times[f'{key}/{b}'] for b in BACKENDS}, args.batch) for key in cases}
    shape = cases['seed'].meta['input_shape']
    hw = tuple(shape[2:])
    cost = {key: count_config(config, hw) for key, (config, _) in nets.items()}
    madds = {k: dict(model=c.model.madds, backbone=c.backbone_madds, params=c.model.params) for k, c in cost.items()}
    meta = cases['seed'].meta
    md = [f"{title} on {meta['device_name']}, input {'x'.join(map(str, shape))}, "
          f"{meta['threads']} thread(s), {args.warmup} warm-up + {args.repeats} timed calls of each, alternately; "
          f"onnxruntime {meta['versions']['onnxruntime']}, torch {meta['versions']['torch']}", '',
          '| network | MAdds | backbone MAdds | PyTorch predict ms | PyTorch network ms | ONNX Runtime ms |',
          '| --- | --- | --- | --- | --- | --- |']
    for key in ('seed', 'adapted'):
        r = rows[key]
        md.append(f"| {key} | {format_count(madds[key]['model'])} | {format_count(madds[key]['backbone'])} | " + ' | '.join(
            f"{r[b]['median_ms']:.2f} ({r[b]['p10_ms']:.2f}-{r[b]['p90_ms']:.2f})" for b in BACKENDS) + ' |')
    ratio = {b: rows['adapted'][b]['median_ms'] / rows['seed'][b]['median_ms'] for b in BACKENDS}
    md.append(f"| adapted / seed | {madds['adapted']['model'] / madds['seed']['model']:.3f} | "
              f"{madds['adapted']['backbone'] / madds['seed']['backbone']:.3f} | "
              + ' | '.join(f'{ratio[b]:.3f}' for b in BACKENDS) + ' |')
    ort_speedup = {k: rows[k]['pytorch']['median_ms'] / rows[k]['onnxruntime']['median_ms'] for k in rows}
    md += ['', 'median (10th-90th percentile) ms per call; ONNX Runtime vs PyTorch predict: '
           + ', '.join(f'{k} {v:.2f}x faster' for k, v in ort_speedup.items())
           + f'; total {time.time() - start:.0f} s']
    record = dict(meta={k: c.meta for k, c in cases.items()}, rows=rows, madds=madds, ratio_latency=ratio,
                  ratio_madds={k: madds['adapted'][k] / madds['seed'][k] for k in ('model', 'backbone')},
                  exports=exports, repeats=args.repeats, warmup=args.warmup)
    atomic_write_text(osp.join(out, 'deploy_latency.json'), json.dumps(record, indent=1, default=str) + '\n')
    atomic_write_text(osp.join(out, 'deploy_latency.md'), '\n'.join(md) + '\n')
    print('\n'.join(md))
    print(f"written: {osp.join(out, 'deploy_latency.json')}, deploy_latency.md")
    return record


if __name__ == '__main__':
    main()
