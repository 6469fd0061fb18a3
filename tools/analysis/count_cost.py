#!/usr/bin/env python
"""Print the MAdds and parameters of a config's model, or of a spec with its family's classifier.

MAdds are the multiply-adds of convolution and linear layers for one image of the given size (as
in the FNA++, DNA and NetAdaptV2 papers); parameters are all learnable parameters of the model.

Usage::

    python tools/analysis/count_cost.py CONFIG --shape H W [--breakdown [DEPTH]] [--cfg-options k=v]
    python tools/analysis/count_cost.py --spec NAME_OR_FILE [--num-classes N] --shape H W [--breakdown]

With ``--spec`` the spec (a built-in name or a spec file, any family) is counted analytically with
its family's ImageNet-style classifier (global pool and FC; MobileNetV3 specs name a hidden layer),
no config needed; ``--breakdown`` prints the stem, each stage, the head conv and the classifier.

Examples::

    $ python tools/analysis/count_cost.py configs/baselines/retinanet_mbv2_shapes.py --shape 800 1088
    MAdds: 133.05B
    Params: 11.49M
    $ python tools/analysis/count_cost.py --spec mobilenet_v3_large --num-classes 1000 --shape 224 224
    MAdds: 216.6M
    Params: 5.48M
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import Config, DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Count MAdds and params of a config\'s model, or of a spec '
                                     'with its family\'s classifier')
    parser.add_argument('config', nargs='?', default=None, help='config file path (or give --spec)')
    parser.add_argument('--spec', default=None, help='a spec (built-in name or file) to count with its '
                        "family's classifier instead of a config")
    parser.add_argument('--num-classes', type=int, default=1000,
                        help='classes of the classifier counted with --spec (default 1000)')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                        help='input image size: H W, or one number for a square image (default 224 224)')
    parser.add_argument('--breakdown', type=int, nargs='?', const=2, default=None, metavar='DEPTH',
                        help='also print MAdds and params per module, names cut to DEPTH parts (default 2)')
    parser.add_argument('--transposed-conv', choices=['input', 'output'], default='input',
                        help="how transposed convs count: the multiply-adds they perform ('input', default) "
                        "or as a conv at their output resolution ('output', the FNA++ pose tables)")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                        help='override settings of the config, key=value pairs')
    args = parser.parse_args(argv)
    if len(args.shape) == 1:
        args.shape = args.shape * 2
    if len(args.shape) != 2 or min(args.shape) < 1:
        parser.error(f'--shape takes H W (positive), got {args.shape}')
    if (args.config is None) == (args.spec is None):
        parser.error('give exactly one of CONFIG or --spec')
    if args.spec is not None and args.cfg_options:
        parser.error('--cfg-options applies to a CONFIG, not to --spec')
    if args.num_classes < 1:
        parser.error(f'--num-classes must be positive, got {args.num_classes}')
    return args


def count_spec(args) -> None:
    """Print the cost of ``args.spec`` with its family's classifier (and a per-stage breakdown)."""
    from mmadapt.arch import SpecError, load_spec
    from mmadapt.cost import classifier_cost, format_count
    try:
        spec = load_spec(args.spec)
        result = classifier_cost(spec, args.num_classes, tuple(args.shape))
    except (SpecError, ValueError) as e:
        sys.exit(f'error: {e}')
    h, w = args.shape
    print(f'Spec: {spec.name} ({spec.family})')
    print(f'Input: {spec.in_channels}x{h}x{w}')
    print(f'Classifier: {result.describe()}')
    print(f'MAdds: {format_count(result.madds)}')
    print(f'Params: {format_count(result.params)}')
    print(f'Backbone MAdds: {format_count(result.backbone.madds)}')
    print(f'Backbone params: {format_count(result.backbone.params)}')
    if args.breakdown is not None:
        cost = result.backbone
        rows = [('stem', cost.stem_madds, cost.stem_params)]
        for s in range(len(spec.stages)):
            layers = [lc for lc in cost.layers if lc.info.stage == s]
            rows.append((f'stage {s}', sum(lc.madds[0] for lc in layers), sum(lc.params[0] for lc in layers)))
        if spec.head is not None:
            rows.append(('head', cost.head_madds, cost.head_params))
        rows.append(('classifier', result.classifier_madds, result.classifier_params))
        print(f"\n{'part':<10}  {'MAdds':>10}  {'params':>10}")
        for name, m, p in rows:
            print(f'{name:<10}  {format_count(m):>10}  {format_count(p):>10}')


def main(argv=None):
    args = parse_args(argv)
    if args.spec is not None:
        count_spec(args)
        return
    import mmadapt  # noqa: F401  (registers mmadapt's modules)
    from mmadapt.cost import format_count
    from mmadapt.cost.config_cost import count_config
    if not osp.isfile(args.config):
        sys.exit(f'error: config file {args.config} does not exist')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    result = count_config(cfg, args.shape, transposed=args.transposed_conv)
    h, w = result.shape
    print(f'Config: {args.config}')
    print(f'Input: 3x{h}x{w}')
    print(f'MAdds: {format_count(result.model.madds)}')
    print(f'Params: {format_count(result.model.params)}')
    print(f'Backbone MAdds: {format_count(result.backbone_madds)}')
    print(f'Backbone params: {format_count(result.backbone_params)}')
    if result.expected_madds is not None:
        print('Backbone is a super-net: counted on its current path '
              f'({result.derived}); expected backbone MAdds (Eq. 9): '
              f'{format_count(result.expected_madds)}, paths range '
              f'{format_count(result.min_madds)} - {format_count(result.max_madds)}')
    elif result.derived is not None:
        print(f'Backbone is elastic: MAdds of its active sub-network ({result.derived}); params of the '
              'whole (max) network')
    if args.breakdown is not None:
        rows = result.model.grouped(args.breakdown)
        width = max(len(k) for k in rows) if rows else 10
        print(f"\n{'module':<{width}}  {'MAdds':>10}  {'params':>10}")
        for name, (m, p) in rows.items():
            print(f'{name:<{width}}  {format_count(m):>10}  {format_count(p):>10}')


if __name__ == '__main__':
    main()
