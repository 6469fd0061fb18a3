#!/usr/bin/env python
"""Write a built-in "shapes" data set (det, seg, pose, cls or depth) in the standard OpenMMLab formats.

Example:
    python tools/data/make_shapes.py --task det --out data/shapes_det \
        --num-train 400 --num-val 100 --size 128 --seed 0

Depth estimation in NYU Depth V2's layout (mmseg's NYUDataset: images/{train,test}/*.jpg,
annotations/{train,test}/*.png in millimetres; the val images go to test):
    python tools/data/make_shapes.py --task depth --out data/shapes_depth \
        --num-train 800 --num-val 100 --size 64 --seed 0

Classification with controlled difficulty (half easy, half hard images; which is which in
meta/difficulty_{train,val}.txt):
    python tools/data/make_shapes.py --task cls --difficulty mixed --out data/shapes_cls_mixed
"""
import argparse
import os.path as osp
import signal
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmadapt.datasets.shapes import DIFFICULTIES, TASKS, ShapesArgumentError, make_shapes  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--task', required=True, help=f'one of: {", ".join(TASKS)}')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--num-train', type=int, default=200, help='training images')
    parser.add_argument('--num-val', type=int, default=50, help='validation images')
    parser.add_argument('--size', type=int, default=128, help='image side in pixels (>= 32)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument('--difficulty', default=None, metavar='|'.join(DIFFICULTIES),
                        help='--task cls only: "mixed" draws each image easy (one large clean shape) or '
                        'hard (a small low-contrast, partly hidden shape among distractor bars) with '
                        'probability 1/2 and lists which in meta/difficulty_{train,val}.txt; '
                        'default: the usual scenes')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace OUT if it exists and is a shapes data set (any other folder is refused)')
    return parser.parse_args(argv)


def _terminate(signum, frame):
    # SIGTERM (a job scheduler, `kill`) ends the run like Ctrl-C: make_shapes removes its temporary folder
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        meta = make_shapes(args.task, args.out, args.num_train, args.num_val, args.size, args.seed,
                           overwrite=args.overwrite, difficulty=args.difficulty)
    except (ShapesArgumentError, FileExistsError) as e:
        print(f'make_shapes.py: error: {e}', file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f'wrote shapes/{meta["task"]} to {osp.abspath(args.out)}: {meta["num_train"]} train + '
          f'{meta["num_val"]} val images of {meta["size"]}x{meta["size"]}, classes '
          f'{", ".join(meta["classes"])}'
          + (f', difficulty {meta["difficulty"]}' if 'difficulty' in meta else '')
          + f' ({time.time() - start:.1f}s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
