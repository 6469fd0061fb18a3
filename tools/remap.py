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
import os
import os.path as osp
import sys
import tempfile

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
    import torch

    import mmadapt  # noqa: F401
    from mmadapt.arch import SpecError, load_spec
    from mmadapt.models import DerivedMobileNetV2, DerivedResNet, SuperMobileNetV2, SuperResNet
    from mmadapt.remap import SeedFormatError, load_seed, remap_state_dict, unwrap_checkpoint

    if not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint {args.checkpoint} does not exist')
    try:
        src_spec, dst_spec = load_spec(args.src_spec), load_spec(args.dst_spec)
        if src_spec.family != dst_spec.family:
            sys.exit(f'error: cannot remap a {src_spec.family} spec into a {dst_spec.family} spec')
        ckpt = torch.load(args.checkpoint, map_location='cpu', weights_only=True)
        extra = {}
        if args.source == 'seed':
            src_state, seed_report = load_seed(ckpt, src_spec, args.format, args.prefix)
            print(seed_report.summary())
        else:
            full = unwrap_checkpoint(ckpt)
            prefix = 'backbone.' if args.prefix is None else args.prefix
            src_state = {k[len(prefix):]: v for k, v in full.items() if k.startswith(prefix)}
            if not src_state:
                sys.exit(f'error: no keys with prefix {prefix!r} in {args.checkpoint}')
            extra = {k: v for k, v in full.items() if not k.startswith(prefix)}
            seed_report = None
        if dst_spec.is_derived:
            cls = DerivedMobileNetV2 if dst_spec.family == 'mbv2' else DerivedResNet
        else:
            cls = SuperMobileNetV2 if dst_spec.family == 'mbv2' else SuperResNet
        kwargs = {} if args.out_indices is None else dict(out_indices=tuple(args.out_indices))
        target = cls(spec=dst_spec, init_cfg=[], **kwargs)
        state, report = remap_state_dict(src_spec, src_state, dst_spec, target.state_dict(), args.strategy)
    except (SpecError, SeedFormatError, ValueError) as e:
        sys.exit(f'error: {e}')
    print(report.summary())
    if extra:
        print(f'copied as they are (outside the backbone): {len(extra)} tensors')
    out_state = {f'backbone.{k}': v for k, v in state.items()}
    out_state.update(extra)
    meta = dict(arch_spec=dst_spec.to_dict(), remap=report.to_dict(), source=args.source,
                source_spec=src_spec.to_dict(), strategy=args.strategy,
                seed=seed_report.to_dict() if seed_report else None)
    folder = osp.dirname(osp.abspath(args.out))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')  # written whole or not at all
    os.close(fd)
    torch.save(dict(state_dict=out_state, meta=meta), tmp)
    os.replace(tmp, args.out)
    print(f'written: {args.out}')
    if args.report:
        with open(args.report, 'w', encoding='utf-8') as f:
            json.dump(meta, f, indent=2)
        print(f'report: {args.report}')


if __name__ == '__main__':
    main()
