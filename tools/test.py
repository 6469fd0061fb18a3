#!/usr/bin/env python
"""Evaluate a model from an OpenMMLab config (mmdet, mmseg, mmpose, mmpretrain or mmadapt).

    python tools/test.py CONFIG [CHECKPOINT] [--work-dir DIR] [--cfg-options k=v ...]
                                             [--launcher none|pytorch|slurm]

Without CHECKPOINT the model is evaluated as its config initialises it (useful as the "untrained"
reference). Metrics are printed and written to ``{work_dir}/results.json``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmadapt.engine import build_runner, prepare_config, run_tool  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Evaluate a model with mmadapt')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (default: the model as its config initialises it)')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override settings of the config, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    cfg = prepare_config(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options,
                         launcher=args.launcher, checkpoint=args.checkpoint, stage='test')
    if args.checkpoint is None:
        print('no checkpoint given: evaluating the model as its config initialises it')
    runner = build_runner(cfg)
    if args.checkpoint is not None:
        # mmengine loads non-strictly: refuse a checkpoint of another architecture before testing
        from mmengine.model import is_model_wrapper

        from mmadapt.utils.checkpoint import check_checkpoint_matches
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_checkpoint_matches(model, args.checkpoint)
    metrics = runner.test()
    print('metrics: ' + ', '.join(f'{k}={v}' for k, v in metrics.items()))


if __name__ == '__main__':
    run_tool(main)
