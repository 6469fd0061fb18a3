#!/usr/bin/env python
"""DS-Net's Table 1 on this machine: ways of running a 25%-width ResNet-50, side by side in one run.

Part 1: ResNet-50 (spec ``resnet50``, backbone to the last stage, no classifier) at 25% of every
stage width (``ElasticSpace(width_ratios=(0.25, 1.0), per='stage', elastic_stem=True)``: the stem at
25% too; ``--full-stem`` keeps it at 64, ElasticSpace's default, whose sub-network then keeps stage 0's
first block at its full output width 256), forward in eval mode under ``torch.no_grad``, five ways:

1. **full**: the full-width elastic network (``ElasticResNet`` at its max sub-network);
2. **masking**: the same full network with a 0/1 channel mask keeping the leading 25% multiplied
   into the output of every conv unit (``ChannelScale`` installed with ``add_modulation``);
3. **indexing**: per conv unit and per forward, the kept output filters and input channels of the
   weight (and the kept BN parameters and statistics) gathered with ``index_select`` (a copy), then
   a conv with the gathered weights (what dynamic pruning methods do);
4. **slicing**: the elastic network set to the 25% sub-network (``set_subnet``: leading-channel
   views of the max weights, no copy);
5. **standalone**: the static derived network of the 25% spec (``export_subnet`` +
   ``derived_config`` built with ``mmadapt.registry.MODELS``), its weights loaded.

The static derived full ResNet-50 is timed as well, for reference. Masking, indexing and standalone
are checked against slicing (max abs difference printed). Timings alternate between the networks
(the order flips every round) and report medians and the interquartile range, so that the ratios
hold on a shared machine. The target of the issue is slicing / standalone <= 1.05.

Part 2 (:func:`dynamic_vs_static`): a DS-MBNet-L backbone whose gate routes each of ``--images``
images: per-image latency of the dynamic network at batch 1 (trunk, gate, sliced route) against the
static route of the nearest MAdds, the slimmest and the widest; then a batch of ``--group-batch``
images run grouped by route (each group sliced) against the masked run and the static route. Usage::

    python benchmarks/dsnet_latency.py [--batch 1] [--size 224] [--repeats 50] [--warmup 5]
                                       [--threads 2] [--full-stem] [--device cpu|cuda] [--skip-static]
"""
import argparse
import os.path as osp
import statistics
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from _timing import alternate_times as alternate  # noqa: E402  (benchmarks/_timing.py)

SPEC = 'resnet50'
OUT_INDICES = (3, )
WAYS = ('full', 'masking', 'indexing', 'slicing', 'standalone', 'full, static derived')


def median_iqr(times):
    """(median, first quartile, third quartile) of a list of seconds."""
    if len(times) < 2:
        return times[0], times[0], times[0]
    q1, _, q3 = statistics.quantiles(times, n=4, method='inclusive')
    return statistics.median(times), q1, q3


def output_widths(net, x):
    """(unit name -> output width, block name -> output width) of the active sub-network of ``net``
    (one forward with a recording modulation)."""
    from mmadapt.models.backbones.elastic import ChannelModulation

    class Recorder(ChannelModulation):
        def __init__(self):
            self.units, self.blocks = {}, {}

        def unit(self, name, y):
            self.units[name] = y.shape[1]
            return y

        def block(self, name, y):
            self.blocks[name] = y.shape[1]
            return y

    rec = net.add_modulation(Recorder())
    net(x)
    net.remove_modulation(rec)
    return rec.units, rec.blocks


def leading_masks(widths, max_widths, device):
    """name -> (C,) 0/1 float mask keeping the leading ``widths[name]`` of ``max_widths[name]`` channels."""
    return {n: (torch.arange(max_widths[n], device=device) < w).float() for n, w in widths.items()}


class IndexedResNet(nn.Module):
    """A bottleneck ResNet run by gathering the kept channels of every weight at every forward.

    For every conv unit (conv + BN + activation) of ``net`` (an elastic or derived ResNet with the
    max widths), ``indices[name]`` are the output channels it keeps; its input channels are the kept
    output channels of the unit before it. Each forward copies ``weight.index_select(0, out)
    .index_select(1, in)`` and the kept BN parameters and statistics, and runs the conv on the
    compact input, as dynamic pruning methods do. An identity shortcut whose input is wider than the
    block's output keeps the leading channels (``match_width``): right for leading indices only.
    """

    def __init__(self, net, indices, in_channels=3):
        super().__init__()
        self.net = net  # shares the modules (and weights) of net
        self.indices = indices
        self.in_index = torch.arange(in_channels, device=next(net.parameters()).device)

    def unit(self, name, unit, x, idx_in):
        idx = self.indices[name]
        m = unit._modules
        conv = m['conv']
        w = conv.weight.index_select(0, idx).index_select(1, idx_in)
        b = None if conv.bias is None else conv.bias.index_select(0, idx)
        y = F.conv2d(x, w, b, conv.stride, conv.padding, conv.dilation, conv.groups)
        if unit.with_norm:
            bn = m[unit.norm_name]
            y = F.batch_norm(y, bn.running_mean.index_select(0, idx), bn.running_var.index_select(0, idx),
                             bn.weight.index_select(0, idx), bn.bias.index_select(0, idx), False, 0.0, bn.eps)
        if unit.with_activation:
            y = m['activate'](y)
        return y, idx

    def forward(self, x):
        from mmadapt.models.backbones.ops import match_width
        net = self.net
        x, idx = self.unit('stem', net.stem, x, self.in_index)
        if net.stem_pool is not None:
            x = net.stem_pool(x)
        outs = []
        for s, stage in enumerate(net.stages):
            for j, block in enumerate(stage):
                name = f'stages.{s}.{j}'
                y, i1 = self.unit(f'{name}.conv1', block.conv1, x, idx)
                y, i2 = self.unit(f'{name}.conv2', block.conv2, y, i1)
                y, i3 = self.unit(f'{name}.conv3', block.conv3, y, i2)
                if block.downsample is not None:
                    identity, _ = self.unit(f'{name}.downsample', block.downsample, x, idx)
                else:
                    identity = match_width(x, y.shape[1])
                x, idx = block.act(y + identity), i3
            if s in net.out_indices:
                outs.append(x)
        return tuple(outs)


def init_random(net):
    """Kaiming (fan-out) conv weights and random BN parameters and statistics, so that the checks see
    every gathered or sliced tensor (and the outputs stay of order 1)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.uniform_(0.2, 0.6)
            m.bias.data.normal_(0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)


def max_diff(a, b):
    return (a - b).abs().max().item()


@torch.no_grad()
def static_ways(args, device):
    from mmadapt.arch import ElasticSpace
    from mmadapt.cost import format_count, spec_cost
    from mmadapt.models.backbones import ElasticResNet
    from mmadapt.models.backbones.elastic import ChannelScale
    from mmadapt.registry import MODELS

    torch.manual_seed(args.seed)
    hw = (args.size, args.size)
    net = ElasticResNet(spec=SPEC, out_indices=OUT_INDICES, pad_outputs=False)
    init_random(net)
    space = ElasticSpace(net.spec, width_ratios=(args.ratio, 1.0), per='stage', elastic_stem=not args.full_stem)
    sub = space.min()
    state = net.state_dict()

    def elastic():
        e = ElasticResNet(spec=SPEC, out_indices=OUT_INDICES, pad_outputs=False)
        e.load_state_dict(state, strict=True)
        return e.to(device).eval()

    full, masked, sliced = elastic(), elastic(), elastic()
    sliced.set_subnet(sub)
    sub_spec, sub_state = sliced.export_subnet()
    standalone = MODELS.build(dict(sliced.derived_config(sub_spec), init_cfg=[]))
    standalone.load_state_dict(sub_state, strict=True)
    standalone.to(device).eval()
    derived_full = MODELS.build(dict(full.derived_config(full.spec), init_cfg=[]))
    derived_full.load_state_dict(state, strict=True)
    derived_full.to(device).eval()

    x = torch.randn(args.batch, 3, *hw, device=device)
    widths, block_widths = output_widths(sliced, x)  # of the 25% sub-network
    max_widths, max_block_widths = output_widths(full, x)
    masked.add_modulation(ChannelScale(leading_masks(widths, max_widths, device), on='unit'))
    # a block output needs a mask of its own only where its identity shortcut carries channels beyond
    # the sub-network's width (an input wider than the output: the stage-0 blocks with --full-stem)
    names = list(block_widths)
    wider = [n for p, n in zip(names, names[1:])
             if f'{n}.downsample' not in widths and block_widths[p] > block_widths[n]]
    if wider:
        masked.add_modulation(ChannelScale(leading_masks({n: block_widths[n] for n in wider}, max_block_widths,
                                                         device), on='block'))
    indexed = IndexedResNet(full, {n: torch.arange(w, device=device) for n, w in widths.items()}).eval()
    masking = f'{len(widths)} conv-unit masks' + (f' and {len(wider)} block-output masks' if wider else '')

    fns = {'full': lambda: full(x), 'masking': lambda: masked(x), 'indexing': lambda: indexed(x),
           'slicing': lambda: sliced(x), 'standalone': lambda: standalone(x),
           'full, static derived': lambda: derived_full(x)}

    madds_full = spec_cost(net.spec, hw, out_indices=OUT_INDICES).madds
    madds_sub = spec_cost(sub_spec, hw, out_indices=OUT_INDICES).madds
    stem = (f"stem at full width ({sub_spec.stem['out_channels']}; ElasticSpace's default elastic_stem=False, "
            "which keeps stage 0's first block at full output width, else it would need a shortcut the max "
            "network does not have)" if args.full_stem else
            f"stem at {args.ratio:.0%} too ({sub_spec.stem['out_channels']} of {net.spec.stem['out_channels']}; "
            "ElasticSpace elastic_stem=True, not its default; --full-stem keeps it at full width)")
    print(f'\n## 1. ResNet-50 at {args.ratio:.0%} width: full, masking, indexing, slicing, standalone '
          f'(forward, eval, no_grad; {hw[0]}x{hw[1]}, batch {args.batch}, backbone to stage {OUT_INDICES[-1]}, '
          f'no classifier)\n')
    print(f'sub-network: every stage at {args.ratio:.0%} (ElasticSpace per=\'stage\', divisor {space.divisor}), '
          f'{stem}; blocks per stage {[st["blocks"] for st in sub_spec.to_dict()["stages"]]}')
    print(f'masking: {masking} on the full network (ChannelScale modulations)')
    print(f'MAdds: full {format_count(madds_full)}, {args.ratio:.0%} {format_count(madds_sub)} '
          f'({madds_sub / madds_full:.1%} of full)')

    ref = sliced(x)[0]
    c = ref.shape[1]
    out_m = masked(x)[0]
    checks = [
        ('masking vs slicing (kept channels)', max_diff(out_m[:, :c], ref)),
        ('masking, masked channels (should be 0)', out_m[:, c:].abs().max().item() if out_m.shape[1] > c else 0.0),
        ('indexing vs slicing', max_diff(indexed(x)[0], ref)),
        ('standalone vs slicing', max_diff(standalone(x)[0], ref)),
        ('full, static derived vs full', max_diff(derived_full(x)[0], full(x)[0])),
    ]
    exact = torch.equal(standalone(x)[0], ref)
    print(f'\noutputs: sliced {tuple(ref.shape)}, max |output| {ref.abs().max().item():.3g}; full '
          f'{tuple(out_m.shape)}, max |output| {full(x)[0].abs().max().item():.3g}')
    for what, d in checks:
        print(f'max abs diff, {what}: {d:.3g}')
    ok = checks[2][1] <= 1e-4 and checks[3][1] <= 1e-5
    print(f"standalone == slicing exactly: {exact}; indexing within 1e-4 and standalone within 1e-5 of slicing: "
          f"{'ok' if ok else 'FAIL'}")

    times = alternate(fns, args.repeats, device, warmup=args.warmup)
    stats = {k: median_iqr(v) for k, v in times.items()}
    med = {k: v[0] for k, v in stats.items()}
    print('\n| way | ms per forward (median) | interquartile range (ms) | min (ms) | vs slicing | vs full |')
    print('| --- | --- | --- | --- | --- | --- |')
    for k in WAYS:
        m, q1, q3 = stats[k]
        print(f'| {k} | {m * 1e3:.2f} | {q1 * 1e3:.2f} - {q3 * 1e3:.2f} | {min(times[k]) * 1e3:.2f} | '
              f"{m / med['slicing']:.3f} | {m / med['full']:.3f} |")
    ratios = dict(slicing_standalone=med['slicing'] / med['standalone'], full_slicing=med['full'] / med['slicing'],
                  masking_full=med['masking'] / med['full'], indexing_slicing=med['indexing'] / med['slicing'])
    print(f"\nslicing / standalone: {ratios['slicing_standalone']:.3f} (target <= 1.05: "
          f"{'met' if ratios['slicing_standalone'] <= 1.05 else 'NOT met'})")
    print(f"full / slicing: {ratios['full_slicing']:.2f} (speed-up of the sub-network; MAdds ratio "
          f'{madds_full / madds_sub:.2f})')
    print(f"masking / full: {ratios['masking_full']:.3f} (masking costs at least the full network)")
    print(f"indexing / slicing: {ratios['indexing_slicing']:.3f} (cost of copying the kept weights every forward)")
    return ratios


def dynamic_vs_static(args, device):
    """Part 2: a DS-MBNet-L backbone (configs/dsnet/dsmbnet_l_in1k.py, 19 routes) routing every image
    (batch 1: the trunk, the gate, then the sliced route; batch > 1: grouped by route, each group
    sliced; and the masked run of training for comparison) against the static routes, the one of
    the nearest MAdds beside it."""
    from mmengine.config import Config

    from mmadapt.cost import format_count
    from mmadapt.methods.dsnet import gate_madds, route_madds, spread_routes
    from mmadapt.registry import MODELS

    torch.manual_seed(args.seed)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'dsnet', 'dsmbnet_l_in1k.py'))
    model = MODELS.build(cfg.model.backbone)
    init_random(model)
    model = model.to(device).eval()
    hw = (args.size, args.size)
    n = args.images
    g = torch.Generator().manual_seed(1)
    images = (torch.randn(n, 3, *hw, generator=g) * (torch.rand(n, 1, 1, 1, generator=g) * 3)
              + torch.randn(n, 3, 1, 1, generator=g) * 2).to(device)
    # BN statistics from the images themselves (random weights alone let the signal die out through
    # MobileNetV1's plain stack, and every image would reach the gate alike)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    model.set_route('max')
    with torch.no_grad():
        model(images)
    model.eval()
    spread_routes(model, images)
    costs = route_madds(model, hw, 1000)
    model.set_dynamic()
    with torch.no_grad():
        model(images)
    choices = model.last_choices[:, 0].cpu()
    dyn_madds = float(costs[choices].mean()) + gate_madds(model)
    nearest = int((costs - dyn_madds).abs().argmin())
    print(f'\n## 2. The dynamic network vs static routes: DS-MBNet-L backbone (19 routes, configs/dsnet/'
          f'dsmbnet_l_in1k.py, random weights), {hw[0]}x{hw[1]}, {n} images, MAdds with the 1000-class FC\n')
    hist = torch.bincount(choices, minlength=len(model.routes))
    print(f'routes taken (choice: images): {dict((k, int(c)) for k, c in enumerate(hist) if c)}')
    print(f'dynamic average MAdds {format_count(dyn_madds)} (the gates\' own {gate_madds(model)}); the static route '
          f'of the nearest MAdds: choice {nearest}, {format_count(float(costs[nearest]))}')

    def per_image(route):
        def run():
            if route is None:
                model.set_dynamic()
            else:
                model.set_route(route)
            for i in range(n):
                model(images[i:i + 1])
        return run

    fns = {'dynamic (batch 1)': per_image(None), f'static route {nearest} (nearest MAdds)': per_image((nearest, )),
           'static slimmest': per_image(model.min_route), 'static widest': per_image(model.max_route)}
    with torch.no_grad():
        times = alternate(fns, args.dyn_repeats, device, warmup=1)
    print('\n| batch 1 | ms per image (median over rounds) | interquartile range | MAdds |')
    print('| --- | --- | --- | --- |')
    madds = {'dynamic (batch 1)': dyn_madds, f'static route {nearest} (nearest MAdds)': float(costs[nearest]),
             'static slimmest': float(costs[0]), 'static widest': float(costs[-1])}
    med = {}
    for k, v in times.items():
        m, q1, q3 = median_iqr(v)
        med[k] = m / n
        print(f'| {k} | {m / n * 1e3:.2f} | {q1 / n * 1e3:.2f} - {q3 / n * 1e3:.2f} | {format_count(madds[k])} |')
    eq = f'static route {nearest} (nearest MAdds)'
    print(f"\ndynamic / static of the nearest MAdds, batch 1: {med['dynamic (batch 1)'] / med[eq]:.3f} "
          f"(MAdds ratio {dyn_madds / float(costs[nearest]):.3f}); widest / dynamic: "
          f"{med['static widest'] / med['dynamic (batch 1)']:.2f} (MAdds {float(costs[-1]) / dyn_madds:.2f})")

    b = min(args.group_batch, n)
    batch = images[:b]

    def batched(mode):
        def run():
            if mode == 'static':
                model.set_route((nearest, ))
            else:
                model.set_dynamic(masked=mode == 'masked')
            model(batch)
        return run
    with torch.no_grad():
        times = alternate({'dynamic, grouped slicing': batched('grouped'), 'dynamic, masked': batched('masked'),
                           f'static route {nearest}': batched('static')}, args.dyn_repeats, device, warmup=1)
    print(f'\n| batch {b} | ms per image (median) | interquartile range |')
    print('| --- | --- | --- |')
    for k, v in times.items():
        m, q1, q3 = median_iqr(v)
        print(f'| {k} | {m / b * 1e3:.2f} | {q1 / b * 1e3:.2f} - {q3 / b * 1e3:.2f} |')
    model.set_dynamic()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--ratio', type=float, default=0.25, help='width ratio of the sub-network (default 0.25)')
    parser.add_argument('--full-stem', action='store_true',
                        help="keep the stem at full width (ElasticSpace's default elastic_stem=False)")
    parser.add_argument('--repeats', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--malloc', choices=['keep', 'default'], default='keep',
                        help="'keep': glibc keeps freed memory (mmadapt.cost.latency.keep_heap_memory), as the "
                        'latency tables are measured')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: as set)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--images', type=int, default=32, help='part 2: images routed and timed')
    parser.add_argument('--group-batch', type=int, default=16, help='part 2: batch of the grouped run')
    parser.add_argument('--dyn-repeats', type=int, default=7, help='part 2: alternating rounds')
    parser.add_argument('--skip-static', action='store_true', help='run part 2 only')
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    device = torch.device(args.device)
    if args.malloc == 'keep' and device.type == 'cpu':
        from mmadapt.cost.latency import keep_heap_memory
        keep_heap_memory()
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'
    print(f'device: {device} ({name}), {args.threads} threads, torch {torch.__version__}, allocator {args.malloc}; '
          f'medians of {args.repeats} alternating runs after {args.warmup} warm-up rounds')
    if not args.skip_static:
        static_ways(args, device)
    dynamic_vs_static(args, device)


if __name__ == '__main__':
    main()
