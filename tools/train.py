#!/usr/bin/env python
"""Train a model from an OpenMMLab config (mmdet, mmseg, mmpose, mmpretrain or mmadapt).

Usage mirrors mmdet's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher none|pytorch|slurm]

A config with an ``fna`` dict runs the FNA++ pipeline (mmadapt.engine.fna): architecture adaptation,
derivation, remapping, parameter adaptation and test, each stage in its own folder of the work dir;
``--stage arch|param|seed`` runs one stage, ``--derived-spec FILE`` adapts a given architecture.
A config with a ``dna`` dict runs DNA's search, derivation and training (mmadapt.methods.dna).
A config with a ``netadaptv2`` dict runs NetAdaptV2's super-network training, search and final training
(mmadapt.methods.netadaptv2).
A config with a ``network_adjustment`` dict runs Network Adjustment's rounds
(mmadapt.methods.network_adjustment): one folder per round, ``--resume`` skips the finished ones.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmadapt.engine import build_runner, prepare_config, run_tool  # noqa: E402


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
    parser.add_argument('--stage', choices=['all', 'arch', 'param', 'seed'], default='all',
                        help='FNA configs only: run one stage of the pipeline (default: all)')
    parser.add_argument('--derived-spec', help='FNA configs only: skip the search and adapt the '
                        'parameters of this derived spec (a .yaml/.json file or a built-in name)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    cfg_file = Config.fromfile(args.config) if osp.isfile(args.config) else None
    for key, module, title, unit in (('network_adjustment', 'mmadapt.methods.network_adjustment', 'Network Adjustment',
                                      'rounds'), ('dna', 'mmadapt.methods.dna', 'DNA', 'stages'),
                                     ('netadaptv2', 'mmadapt.methods.netadaptv2.pipeline', 'NetAdaptV2', 'stages')):
        if cfg_file is None or key not in cfg_file:
            continue
        import importlib
        run_method = importlib.import_module(module).run_pipeline
        if args.resume not in (None, 'auto'):
            sys.exit(f'error: {title} configs resume each of their {unit} from its own folder: use --resume '
                     'without a path')
        if args.stage != 'all' or args.derived_spec:
            sys.exit(f'error: --stage and --derived-spec are for FNA configs; a {title} config runs its {unit} in '
                     f'order (--resume skips the finished ones)')
        run_method(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher,
                   resume=args.resume == 'auto')
        return
    if cfg_file is not None and 'fna' in cfg_file:
        from mmadapt.engine.fna import run_pipeline
        if args.resume not in (None, 'auto'):
            sys.exit('error: FNA configs resume each stage from its own work dir: use --resume without a path')
        run_pipeline(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher,
                     stage=args.stage, derived_spec=args.derived_spec, resume=args.resume == 'auto')
        return
    if args.stage != 'all' or args.derived_spec:
        sys.exit('error: --stage and --derived-spec are for FNA configs (configs with an `fna` dict)')
    cfg = prepare_config(
        args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher,
        amp=args.amp, auto_scale_lr=args.auto_scale_lr, resume=args.resume, stage='train')
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    run_tool(main)
