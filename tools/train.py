#!/usr/bin/env python
"""Train a model from an OpenMMLab config (mmdet, mmseg, mmpose, mmpretrain or mmadapt).

Usage mirrors mmdet's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmadapt.engine import build_runner, prepare_config  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model with mmadapt')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true', default=False,
                        help='enable automatic-mixed-precision training (needs a GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate with the total batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint; without a value, from the latest checkpoint in '
        'the work dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override settings of the config, key=value pairs, e.g. train_cfg.max_iters=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = prepare_config(
        args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher,
        amp=args.amp, auto_scale_lr=args.auto_scale_lr, resume=args.resume, stage='train')
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
