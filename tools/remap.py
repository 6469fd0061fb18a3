#!/usr/bin/env python
"""Remap a checkpoint from one architecture spec to another (FNA++ parameter remapping).

Usage::

    python tools/remap.py CHECKPOINT --src-spec SPEC --dst-spec SPEC --out OUT.pth
                          [--source seed|super] [--strategy fna|bn|std|l1|dilate|net2net|random]
                          [--format auto|torchvision|timm|mmpretrain|mmdet|mmadapt] [--prefix backbone.]
                          [--out-indices 2 4 6] [--report REPORT.json]

Examples::

    # a torchvision MobileNetV2 seed into the FNA++ detection search space
    python tools/remap.py mobilenet_v2.pth --src-spec mobilenet_v2 --dst-spec fna_mbv2_det --out super.pth
    # a searched super-net (a detector checkpoint) into its derived network: the backbone is
    # collected, everything outside it (neck, head) is copied as it is
    python tools/remap.py search/epoch_14.pth --source super --src-spec fna_mbv2_det \\
        --dst-spec search/derived.yaml --out derived.pth

The output holds ``state_dict`` (backbone keys under ``--prefix``, default ``backbone.``, and, for a
model checkpoint, every other key as it was) and ``meta`` with the target spec and the report. The
report (also printed) lists every target tensor that received nothing and every source tensor that
was not used.
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Remap a checkpoint between architecture specs')
    p.add_argument('checkpoint', help='source checkpoint')
    p.add_argument('--src-spec', required=True, help='spec of the source backbone (name or file)')
    p.add_argument('--dst-spec', required=True, help='spec of the target backbone (name or file)')
    p.add_argument('--out', required=True, help='output checkpoint')
    p.add_argument('--source', choices=['seed', 'super'], default='seed',
                   help="'seed': a seed in any supported format; 'super': a super-net model checkpoint")
    p.add_argument('--strategy', default='fna', help='remapping strategy (default fna)')
    p.add_argument('--format', default='auto', help='seed checkpoint format (default: detected)')
    p.add_argument('--prefix', default=None,
                   help="key prefix of the backbone in the source checkpoint (default: detected for seeds, "
                   "'backbone.' for super-nets); the output uses 'backbone.'")
    p.add_argument('--out-indices', type=int, nargs='+', default=None,
                   help='out_indices of the target backbone (default: the whole network)')
    p.add_argument('--report', help='also write the report as JSON here')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmadapt.arch import SpecError
    from mmadapt.remap import SeedFormatError
    from mmadapt.models.checkpoint import remap_checkpoint

    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint {args.checkpoint} does not exist')
    try:
        result = remap_checkpoint(args.checkpoint, args.src_spec, args.dst_spec, args.source, args.strategy,
                                  args.out_indices, args.format, args.prefix)
    except (SpecError, SeedFormatError, ValueError) as e:
        sys.exit(f'error: {e}')
    if result.seed_report is not None:
        print(result.seed_report.summary())
    print(result.report.summary())
    if result.meta['copied']:
        print(f"copied as they are (outside the backbone): {len(result.meta['copied'])} tensors")
    result.save(args.out)  # written whole or not at all
    print(f'written: {args.out}')
    if args.report:
        from mmadapt.utils.fileio import atomic_write_text
        atomic_write_text(args.report, json.dumps(result.meta, indent=2) + '\n')  # whole or not at all
        print(f'report: {args.report}')


if __name__ == '__main__':
    main()
