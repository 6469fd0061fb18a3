#!/usr/bin/env python
"""The main job on the built-in data: pre-train a MobileNetV2 seed on shapes classification, then
train RetinaNet-MobileNetV2 from that seed on shapes detection, and compare with the untrained
detector.

    python tools/demo.py [--work-dir work_dirs/demo] [--data-root data]

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

from mmadapt.datasets.shapes import make_shapes  # noqa: E402
from mmadapt.utils.data_check import data_root_options  # noqa: E402

CLS_CONFIG = osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py')
DET_CONFIG = osp.join(ROOT, 'configs/baselines/retinanet_mbv2_shapes.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo', help='where results go')
    parser.add_argument('--data-root', default='data', help='where the shapes data sets go')
    return parser.parse_args(argv)


def log(msg):
    print(f'[demo {time.strftime("%H:%M:%S")}] {msg}', flush=True)


def ensure_data(task, out, num_train, num_val, size):
    """Generate a shapes set unless one with the same arguments is already there."""
    meta_path = osp.join(out, 'meta.json')
    want = dict(task=task, num_train=num_train, num_val=num_val, size=size, seed=0)
    if osp.isfile(meta_path):
        with open(meta_path, encoding='utf-8') as f:
            meta = json.load(f)
        if all(meta.get(k) == v for k, v in want.items()):
            log(f'data: {out} is up to date')
            return
    start = time.time()
    make_shapes(task, out, num_train, num_val, size, seed=0, overwrite=True)
    log(f'data: wrote {out} ({num_train} train + {num_val} val, {time.time() - start:.1f}s)')


def run_stage(name, cmd, work_dir):
    """Run one tools/*.py command, its output to {work_dir}/{name}.log; return seconds taken."""
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
    with open(osp.join(stage_dir, 'last_checkpoint'), encoding='utf-8') as f:
        return f.read().strip()


def main(argv=None):
    args = parse_args(argv)
    total_start = time.time()
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    cls_root = osp.join(args.data_root, 'shapes_cls')
    det_root = osp.join(args.data_root, 'shapes_det')
    ensure_data('cls', cls_root, 4000, 400, 64)
    ensure_data('det', det_root, 800, 100, 128)

    def data_options(root):
        return [f'{k}={v}' for k, v in data_root_options(root).items()]

    py = sys.executable
    seed_dir = osp.join(work_dir, 'seed_cls')
    untrained_dir = osp.join(work_dir, 'retinanet_untrained')
    det_dir = osp.join(work_dir, 'retinanet_from_seed')
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

    # 2. the untrained detector, as a reference
    times['untrained'] = run_stage('retinanet_untrained', [
        py, osp.join(ROOT, 'tools/test.py'), DET_CONFIG, '--work-dir', untrained_dir,
        '--cfg-options'] + det_opts, work_dir)
    # no box of the untrained model may pass the score threshold: mmdet then reports no metric
    untrained = dict({'coco/bbox_mAP': 0.0, 'coco/bbox_mAP_50': 0.0},
                     **read_results(untrained_dir)['test']['metrics'])

    # 3. RetinaNet-MobileNetV2 trained from the seed
    times['detector'] = run_stage('retinanet_from_seed', [
        py, osp.join(ROOT, 'tools/train.py'), DET_CONFIG, '--work-dir', det_dir, '--cfg-options'
    ] + det_opts + [
        'model.backbone.init_cfg.type=Pretrained', f'model.backbone.init_cfg.checkpoint={seed_ckpt}',
        'model.backbone.init_cfg.prefix=backbone.'
    ], work_dir)
    with open(osp.join(work_dir, 'retinanet_from_seed.log'), encoding='utf-8') as f:
        if 'missing keys in source state_dict' in f.read():
            raise SystemExit('the seed checkpoint did not fit the detector backbone (missing keys, '
                             'see retinanet_from_seed.log)')
    trained = read_results(det_dir)['val'][-1]['metrics']
    det_ckpt = last_checkpoint(det_dir)

    summary = dict(
        seed=dict(config=osp.relpath(CLS_CONFIG, ROOT), top1=seed_top1, checkpoint=seed_ckpt,
                  seconds=round(times['seed'], 1)),
        untrained_detector=dict(mAP=untrained['coco/bbox_mAP'],
                                mAP_50=untrained['coco/bbox_mAP_50']),
        detector=dict(config=osp.relpath(DET_CONFIG, ROOT), mAP=trained['coco/bbox_mAP'],
                      mAP_50=trained['coco/bbox_mAP_50'], checkpoint=det_ckpt,
                      seconds=round(times['detector'], 1)),
        total_seconds=round(time.time() - total_start, 1))
    rows = [
        ('MobileNetV2 seed (shapes cls)', f'top-1 {seed_top1:.2f}%', seed_ckpt),
        ('RetinaNet-MobileNetV2, untrained', f'mAP {untrained["coco/bbox_mAP"]:.3f} '
         f'(AP50 {untrained["coco/bbox_mAP_50"]:.3f})', '-'),
        ('RetinaNet-MobileNetV2 from the seed', f'mAP {trained["coco/bbox_mAP"]:.3f} '
         f'(AP50 {trained["coco/bbox_mAP_50"]:.3f})', det_ckpt),
    ]
    md = ['| model | metric | checkpoint |', '| --- | --- | --- |']
    md += [f'| {a} | {b} | {c} |' for a, b, c in rows]
    with open(osp.join(work_dir, 'summary.json'), 'w', encoding='utf-8') as f:
        json.dump(summary, f, indent=2)
    with open(osp.join(work_dir, 'summary.md'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(md) + '\n')
    print()
    print('\n'.join(md))
    print()
    log(f'total {summary["total_seconds"]:.0f}s; summary: {osp.join(work_dir, "summary.md")} '
        f'and summary.json; logs and checkpoints under {work_dir}')


if __name__ == '__main__':
    main()
