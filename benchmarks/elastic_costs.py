#!/usr/bin/env python
"""What elastic networks cost, measured side by side in one run.

1. **Slicing overhead**: forward latency of an elastic backbone at a random sub-network divided by
   the latency of its exported derived network (same weights, same function; target <= 1.05), for
   MobileNetV1, MobileNetV2 and ResNet-50 at 224x224, batch 1 and 8.
2. **Per-sample widths**: a training step (forward, backward, SGD step) of an elastic network in
   which every image of the batch runs its own sub-network (ordered dropout; drawing the
   sub-networks is part of the step), divided by a plain training step of the max network as an
   ordinary derived module: MobileNetV2 (target <= 1.15 without bypass) and MobileNetV1 with a
   channel-level bypass on every non-first layer (target <= 1.3).
3. **Latency table**: per-unit latencies (conv + norm + activation at their real input sizes) are
   summed into a prediction for random sub-networks, with one calibration factor fitted on a few
   other whole networks; the median absolute error against measured latency (target <= 5%) and
   the rank correlation are printed.

Timings alternate between the two networks of a pair and report medians, so that the ratios hold
on a shared machine. Usage::

    python benchmarks/elastic_costs.py [--parts slicing per_sample latency] [--repeats 7] [--threads 2]
                                       [--device cpu|cuda]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

from _timing import alternate  # noqa: E402  (benchmarks/_timing.py)

SLICING_CASES = {
    'mobilenet_v1': dict(cls='ElasticMobileNetV1', out_indices=(4, ), kernels=(3, )),
    'mobilenet_v2': dict(cls='ElasticMobileNetV2', out_indices=(7, ), kernels=(3, )),
    'resnet50': dict(cls='ElasticResNet', out_indices=(3, ), kernels=(3, )),
}


def _space(spec, kernels):
    from mmadapt.arch import ElasticSpace
    return ElasticSpace(spec, width_ratios=(0.5, 0.625, 0.75, 0.875, 1.0), depths=1, kernels=kernels, divisor=8)


def _elastic(name, case, device):
    import mmadapt.models.backbones as backbones
    from mmadapt.registry import MODELS
    if not hasattr(backbones, case['cls']):
        return None, None
    net = getattr(backbones, case['cls'])(spec=name, out_indices=case['out_indices'], pad_outputs=False)
    return net.to(device).eval(), MODELS


@torch.no_grad()
def slicing(args, device):
    from mmadapt.cost import format_count, spec_cost
    print('\n## 1. Elastic backbone at a sub-network vs its exported derived network (forward, eval)\n')
    print('| network | batch | sub-network MAdds (max) | elastic, weight views (ms) | derived (ms) | ratio | '
          'ratio, contiguous copies of the slices |')
    print('| --- | --- | --- | --- | --- | --- | --- |')
    ratios = []
    for name in args.slicing:
        case = SLICING_CASES[name]
        torch.manual_seed(0)
        net, models = _elastic(name, case, device)
        if net is None:
            print(f"| {name} | - | - | - | - | {case['cls']} not available |")
            continue
        sub = _space(net.spec, case['kernels']).sample(torch.Generator().manual_seed(args.seed))
        net.set_subnet(sub)
        spec, state = net.export_subnet()
        derived = models.build(dict(net.derived_config(spec), init_cfg=[]))
        derived.load_state_dict(state, strict=True)
        derived.to(device).eval()
        madds = spec_cost(spec, (224, 224), out_indices=case['out_indices']).madds
        full = spec_cost(net.spec, (224, 224), out_indices=case['out_indices']).madds
        for batch in args.batches:
            x = torch.randn(batch, 3, 224, 224, device=device)
            torch.testing.assert_close(net(x)[0], derived(x)[0], rtol=1e-4, atol=1e-4)
            def copies():
                net.contiguous_slices = True
                net(x)
                net.contiguous_slices = False

            t = alternate({'elastic': lambda: net(x), 'copies': copies, 'derived': lambda: derived(x)}, args.repeats,
                          device)
            ratio = t['elastic'] / t['derived']
            ratios.append(ratio)
            print(f"| {name} | {batch} | {format_count(madds)} ({format_count(full)}) | {t['elastic'] * 1e3:.1f} | "
                  f"{t['derived'] * 1e3:.1f} | {ratio:.3f} | {t['copies'] / t['derived']:.3f} |", flush=True)
    return ratios


def _bypass_mobilenet_v1():
    """MobileNetV1 whose every non-first layer has a channel-level bypass with T >= C (it may vanish)."""
    from mmadapt.arch import load_spec
    d = load_spec('mobilenet_v1').to_dict()
    d['name'] = 'mobilenet_v1_cbc'
    for stage in d['stages']:
        stage['blocks'] = [b if j == 0 else f'{b}_b1024' for j, b in enumerate(stage['blocks'])]
    return d


def per_sample(args, device):
    import mmadapt.models.backbones as backbones
    from mmadapt.registry import MODELS
    n, size = args.train_batch, args.train_size
    print(f'\n## 2. Training step with per-sample widths vs a plain training step of the max network '
          f'({size}x{size}, batch {n}, every image its own random sub-network, sampling included)\n')
    print('| network | plain max network, derived module (ms) | per-sample widths (ms) | ratio |')
    print('| --- | --- | --- | --- |')
    cases = [('MobileNetV2, no bypass', 'ElasticMobileNetV2', 'mobilenet_v2', 'mobilenet_v2', 7, 1280,
              (0.5, 0.625, 0.75, 0.875, 1.0)),
             ('MobileNetV1, bypass on every non-first layer (width 0 allowed)', 'ElasticMobileNetV1',
              _bypass_mobilenet_v1(), 'mobilenet_v1', 4, 1024, (0.0, 0.5, 0.625, 0.75, 0.875, 1.0))]
    ratios = []
    for title, cls, spec, plain_spec, index, width, ratios_ in cases:
        torch.manual_seed(0)
        net = getattr(backbones, cls)(spec=spec, out_indices=(index, ), pad_outputs=True).to(device).train()
        plain = MODELS.build(dict(type=f'mmadapt.Derived{cls[len("Elastic"):]}', spec=plain_spec,
                                  out_indices=(index, ), init_cfg=[])).to(device).train()
        plain.load_state_dict(net.state_dict())
        fc_a, fc_b = torch.nn.Linear(width, 10).to(device), torch.nn.Linear(width, 10).to(device)
        opt_a = torch.optim.SGD(list(net.parameters()) + list(fc_a.parameters()), lr=1e-3, momentum=0.9)
        opt_b = torch.optim.SGD(list(plain.parameters()) + list(fc_b.parameters()), lr=1e-3, momentum=0.9)
        x = torch.randn(n, 3, size, size, device=device)
        y = torch.randint(0, 10, (n, ), device=device)
        from mmadapt.arch import ElasticSpace
        space = ElasticSpace(net.spec, width_ratios=ratios_, depths=1, divisor=8)
        gen = torch.Generator().manual_seed(args.seed)

        def step(model, fc, opt):
            opt.zero_grad(set_to_none=True)
            out = model(x)[0].mean((2, 3))
            torch.nn.functional.cross_entropy(fc(out), y).backward()
            opt.step()

        def od_step():
            net.set_sample_subnets([space.sample(gen) for _ in range(n)])
            step(net, fc_a, opt_a)

        t = alternate({'per_sample': od_step, 'plain': lambda: step(plain, fc_b, opt_b)}, args.repeats, device)
        ratios.append(t['per_sample'] / t['plain'])
        print(f"| {title} | {t['plain'] * 1e3:.1f} | {t['per_sample'] * 1e3:.1f} | {ratios[-1]:.3f} |", flush=True)
    return ratios


def latency(args, device):
    from mmadapt.cost import latency as lat
    from mmadapt.cost import format_count, spec_cost
    from mmadapt.models import build_spec_backbone
    hw = (args.lut_size, args.lut_size)
    print(f'\n## 3. Latency table: predicted vs measured latency of random sub-networks '
          f'(MobileNetV2 at {hw[0]}x{hw[1]}, batch 1, {args.threads} threads)\n')
    space = _space('mobilenet_v2', (3, ))
    gen = torch.Generator().manual_seed(args.seed + 1)
    calib = [space.max(), space.min()] + [space.sample(gen) for _ in range(2)]
    tests = [space.sample(gen) for _ in range(args.lut_subnets)]
    table = lat.LatencyTable(device=str(device), threads=args.threads, batch=1, warmup=args.lut_warmup,
                             repeats=args.lut_repeats, lazy=True)  # entries measured as they are needed
    networks = [build_spec_backbone(s, out_indices=(7, )) for s in calib]
    factor = lat.calibrate(table, calib, hw, out_indices=(7, ), networks=networks)
    predicted, measured = [], []
    print('| sub-network | MAdds | predicted raw (ms) | predicted (ms) | measured (ms) | error |')
    print('| --- | --- | --- | --- | --- | --- |')
    for i, sub in enumerate(tests):
        raw = table.raw_predict(sub, hw, out_indices=(7, ))
        pred = raw * factor
        meas = lat.measure_network(build_spec_backbone(sub, out_indices=(7, )), hw, batch=1, threads=args.threads,
                                   device=device, warmup=args.lut_warmup, repeats=args.lut_repeats)
        predicted.append(pred)
        measured.append(meas)
        print(f'| random {i} | {format_count(spec_cost(sub, hw).madds)} | {raw:.2f} | {pred:.2f} | {meas:.2f} | '
              f'{(pred - meas) / meas:+.1%} |', flush=True)
    err = lat.median_abs_rel_error(predicted, measured)
    raw_err = lat.median_abs_rel_error([p / factor for p in predicted], measured)
    rho = lat.spearman(predicted, measured)
    print(f'\ncalibration factor {factor:.3f} (fitted on {len(calib)} other networks: the max, the min and 2 '
          f'random); {len(table)} table entries; median |error| {raw_err:.1%} raw, {err:.1%} calibrated; '
          f'Spearman rank correlation {rho:.3f}')
    return err, rho


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--parts', nargs='+', default=['slicing', 'per_sample', 'latency'],
                        choices=['slicing', 'per_sample', 'latency'])
    parser.add_argument('--slicing', nargs='+', default=list(SLICING_CASES), choices=list(SLICING_CASES))
    parser.add_argument('--batches', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--train-size', type=int, default=128)
    parser.add_argument('--train-batch', type=int, default=16)
    parser.add_argument('--lut-size', type=int, default=224)
    parser.add_argument('--lut-subnets', type=int, default=8)
    parser.add_argument('--lut-warmup', type=int, default=10)
    parser.add_argument('--lut-repeats', type=int, default=30)
    parser.add_argument('--malloc', choices=['keep', 'default'], default='keep',
                        help="'keep': glibc keeps freed memory (mmadapt.cost.latency.keep_heap_memory), as the "
                        'latency tables are measured; applies to every part of the run')
    parser.add_argument('--threads', type=int, default=None, help='torch threads (default: as set)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.threads = torch.get_num_threads()
    device = torch.device(args.device)
    if args.malloc == 'keep':
        from mmadapt.cost.latency import keep_heap_memory
        keep_heap_memory()
    print(f'device: {device}, {args.threads} threads, torch {torch.__version__}, allocator {args.malloc}; '
          f'medians of {args.repeats} alternating runs')
    if 'slicing' in args.parts:
        slicing(args, device)
    if 'per_sample' in args.parts:
        per_sample(args, device)
    if 'latency' in args.parts:
        latency(args, device)


if __name__ == '__main__':
    main()
