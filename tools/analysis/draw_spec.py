#!/usr/bin/env python
"""Draw an architecture spec as a PNG in the style of FNA++ Fig. 7, and print it in one line.

Usage::

    python tools/analysis/draw_spec.py SPEC [--out FILE.png]

SPEC is a built-in spec name (e.g. ``mobilenet_v2``, ``fna_mbv2_det``), a ``.yaml`` / ``.json`` file
(e.g. a derived spec written by the search), or, with ``--checkpoint``, the super-net spec whose
architecture parameters are read from the checkpoint and turned into the derived spec (argmax).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def main(argv=None):
    parser = argparse.ArgumentParser(description='Draw an architecture spec')
    parser.add_argument('spec', help='built-in spec name or spec file')
    parser.add_argument('--out', help='PNG file to write (default: <spec name>.png)')
    parser.add_argument('--checkpoint', help='super-net checkpoint: derive the spec from its '
                        'architecture parameters first')
    parser.add_argument('--prefix', default='backbone.', help='module prefix of the super-backbone '
                        "in the checkpoint (default 'backbone.')")
    parser.add_argument('--save-spec', help='also write the (derived) spec to this .yaml/.json file')
    args = parser.parse_args(argv)

    from mmadapt.arch import (SpecError, arch_params_from_state_dict, derive_spec, draw_spec, dump_spec,
                              load_spec)
    try:
        spec = load_spec(args.spec)
        if args.checkpoint:
            import torch
            from mmadapt.utils.checkpoint import load_checkpoint_file
            ckpt = load_checkpoint_file(args.checkpoint)
            state = ckpt.get('state_dict', ckpt)
            spec = derive_spec(spec, arch_params_from_state_dict(state, args.prefix))
    except SpecError as e:
        sys.exit(f'error: {e}')
    print(spec)
    if args.save_spec:
        dump_spec(spec, args.save_spec)
        print(f'spec written to {args.save_spec}')
    out = args.out or f'{spec.name}.png'
    draw_spec(spec, out)
    print(f'picture written to {out}')


if __name__ == '__main__':
    main()
