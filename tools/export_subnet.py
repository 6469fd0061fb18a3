#!/usr/bin/env python
"""Export a sub-network of an elastic backbone as a plain derived network (spec + checkpoint).

Usage::

    python tools/export_subnet.py CONFIG CHECKPOINT --subnet SPEC --out DIR [--cfg-options k=v ...]
    python tools/export_subnet.py CONFIG CHECKPOINT --route 3 --out DIR      # a DS-Net route

With a DS-Net backbone (``mmadapt.DSBackbone``) ``--route`` names a static route (one choice per gate,
comma-separated, or ``max`` / ``min``): the route is written as a network of its own, the derived
backbone when the model has no attention heads, else a gate-less ``mmadapt.DSBackbone`` of the route's
widths (its attention heads sliced); either computes exactly what the dynamic model computes on that
route.

CONFIG is a model config whose backbone is an mmadapt elastic backbone (``mmadapt.Elastic*``),
CHECKPOINT a checkpoint of that model (or of the bare backbone), SPEC the sub-network (a spec file,
a built-in name, or ``max``). DIR receives:

* ``subnet.yaml``: the derived spec (canonical form);
* ``subnet.pth``: ``state_dict`` with the derived backbone under ``backbone.`` (it loads with
  ``strict=True`` into the ``mmadapt.Derived*`` backbone of the spec) and every other key of the
  model checkpoint as it was; ``meta`` with the spec, the derived backbone's config and the source;
* ``config.py`` (when CONFIG is a whole model's config): CONFIG with the derived backbone in place of
  the elastic one, and a linear classifier head cut to a narrower sub-network's output width (the
  elastic network zero-pads that output to the max width: the cut computes the same scores; in
  ``subnet.pth`` too, see :func:`mmadapt.models.subnet_export.fit_linear_head`); with ``subnet.pth`` it is a model of its own, e.g. for
  ``python tools/deploy.py DIR/config.py DIR/subnet.pth --out ONNX_DIR``.

The pair is the seed of any method (``mmadapt.Remap(source_spec='DIR/subnet.yaml', format='mmadapt')``).
The files are written to a temporary folder beside DIR first and moved into place only when complete:
an interrupted export leaves DIR as it was.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmadapt.models.subnet_export import export_subnet as export  # noqa: E402,F401  (the tool's function)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Export a sub-network of an elastic backbone')
    p.add_argument('config', help='model config with an mmadapt elastic backbone')
    p.add_argument('checkpoint', help='checkpoint of the model (or of its backbone)')
    p.add_argument('--subnet', help="sub-network spec (file or built-in name), or 'max'")
    p.add_argument('--route', help="DS-Net backbones: the static route, e.g. '3' or '1,0,2,3', or 'max' / 'min'")
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--prefix', default='backbone.', help="key prefix of the backbone in the checkpoint")
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='override settings of the config, key=value pairs')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from mmadapt.arch import SpecError
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            sys.exit(f'error: {what} {path} does not exist')
    if (args.subnet is None) == (args.route is None):
        sys.exit('error: give --subnet (elastic backbones) or --route (DS-Net backbones)')
    try:
        sub, derived_cfg = export(args.config, args.checkpoint, args.subnet, args.out, args.prefix,
                                  args.cfg_options, route=args.route)
    except (SpecError, ValueError) as e:
        sys.exit(f'error: {e}')
    from mmadapt.cost import format_count, spec_cost
    cost = spec_cost(sub, (224, 224), out_indices=derived_cfg.get('out_indices') or derived_cfg['net']['out_indices'])
    print(f'sub-network: {sub.describe()}')
    print(f'backbone at 224x224: {format_count(cost.madds)} MAdds, {format_count(cost.params)} params')
    written = [osp.join(args.out, n) for n in ('subnet.yaml', 'subnet.pth', 'config.py') if osp.isfile(osp.join(args.out, n))]
    print(f"written: {', '.join(written)}")
    print(f"backbone: type={derived_cfg['type']}, spec={osp.join(args.out, 'subnet.yaml')}")


if __name__ == '__main__':
    main()
