"""NetAdaptV2's costs, measured side by side in one run (medians, alternating order):

1. an ordered-dropout training step (one sub-network per image, stratified widths, per-sample masks)
   divided by a plain training step of the max network (the derived network, an ordinary module),
   with and without channel-level bypass (the paper: CBC makes a super-network epoch about 1.19x
   slower, Table 11);
2. samples scored per second on a held-out split: one sample at a time with and without BN
   recalibration, and several per pass through the per-sample door;
3. MCD against SCD: samples needed to reach the same budget (Table 11: MCD 1.9x fewer), with an
   evaluator that is a known function of the widths (each block's two convs best at equal width).

    python benchmarks/netadaptv2_costs.py [--device cpu|cuda] [--batch 32] [--size 32] [--repeats 15]
"""
import argparse
import math
import os.path as osp
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from _timing import alternate  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--spec', default='mobilenet_v2')
    p.add_argument('--batch', type=int, default=32)
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--repeats', type=int, default=15)
    p.add_argument('--threads', type=int, default=None)
    return p.parse_args()


def step_costs(args):
    from mmadapt.methods.netadaptv2 import NAv2Space, with_bypass
    from mmadapt.models.backbones import ElasticMobileNetV2
    from mmadapt.models.checkpoint import build_spec_backbone
    dev = torch.device(args.device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev)
    y = torch.randint(0, 4, (args.batch, ), device=dev)
    nets, fns = {}, {}

    def make_step(net, before=None):
        head = torch.nn.Linear(net.out_channels[-1] if hasattr(net, 'out_channels') else 1280, 4).to(dev)
        opt = torch.optim.SGD(list(net.parameters()) + list(head.parameters()), lr=1e-3)

        def step():
            if before is not None:
                before()
            out = net(x)[-1]
            loss = F.cross_entropy(head(out.mean((2, 3))), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return step

    plain = build_spec_backbone(args.spec, (7, )).to(dev).train()
    fns['plain step (max network)'] = make_step(plain)
    for label, spec in (('OD step, no bypass', args.spec), ('OD step, with bypass', with_bypass(args.spec, 8))):
        net = ElasticMobileNetV2(spec=spec, out_indices=(7, )).to(dev).train()
        space = NAv2Space(net.spec, widths=9)
        g = torch.Generator().manual_seed(0)
        nets[label] = (net, space)

        def before(net=net, space=space, g=g):
            net.set_sample_subnets([space.spec(s) for s in space.stratified_genomes(args.batch, g)])
        fns[label] = make_step(net, before)
        # the sampling and mask set-up alone (part of the OD step)
        fns[f'{label}: sampling only'] = before
    t = alternate(fns, args.repeats, dev)
    base = t['plain step (max network)']
    print(f'\n1. training step, batch {args.batch} at {args.size}x{args.size}, {args.spec}, {args.device} '
          f'({torch.get_num_threads()} threads), median of {args.repeats}:')
    print('| step | ms | / plain step |')
    print('| --- | --- | --- |')
    for k, v in t.items():
        print(f'| {k} | {v * 1e3:.1f} | {v / base:.2f} |')
    return nets


def scoring_rate(args):
    """Samples scored per second on a held-out split of 200 images (classifier head on the backbone)."""
    from mmadapt.methods.netadaptv2 import NAv2Space, with_bypass
    from mmadapt.models.backbones import ElasticMobileNetV2
    dev = torch.device(args.device)
    net = ElasticMobileNetV2(spec=with_bypass(args.spec, 8), out_indices=(7, )).to(dev).eval()
    head = torch.nn.Linear(net.out_channels[-1], 4).to(dev).eval()
    space = NAv2Space(net.spec, widths=9)
    g = torch.Generator().manual_seed(1)
    genomes = space.stratified_genomes(8, g)
    specs = [space.spec(s) for s in genomes]
    held = [torch.randn(100, 3, args.size, args.size, device=dev) for _ in range(2)]
    recal = [torch.randn(args.batch, 3, args.size, args.size, device=dev) for _ in range(4)]
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]

    @torch.no_grad()
    def one_by_one(with_recal):
        for s in specs:
            net.set_subnet(s)
            if with_recal:
                for m in bns:
                    m.reset_running_stats()
                    m.momentum = None
                net.train()
                for b in recal:
                    net(b)
                net.eval()
            for b in held:
                head(net(b)[-1].mean((2, 3))).argmax(1)

    @torch.no_grad()
    def batched():
        for b in held:
            net.set_sample_subnets([s for s in specs for _ in range(b.shape[0])])
            head(net(b.repeat(len(specs), 1, 1, 1))[-1].mean((2, 3))).argmax(1)
        net.clear_sample_subnets()

    t = alternate({'one at a time, BN recalibrated (4 batches)': lambda: one_by_one(True),
                   'one at a time, super-network BN': lambda: one_by_one(False),
                   'batched (8 samples per pass)': batched}, max(3, args.repeats // 3), dev, warmup=1)
    print(f'\n2. samples scored per second (8 samples, 200 held-out images at {args.size}x{args.size}, {args.device}):')
    print('| scoring | samples / s |')
    print('| --- | --- |')
    for k, v in t.items():
        print(f'| {k} | {len(specs) / v:.1f} |')


def mcd_vs_scd(args):
    from mmadapt.cost import spec_cost
    from mmadapt.methods.netadaptv2 import MCD, NAv2Space, with_bypass
    space = NAv2Space(with_bypass(args.spec, 8), widths=9)
    hw = (args.size, args.size)

    def madds(spec):
        return spec_cost(spec, hw).madds

    pairs = {}
    for key, pos in space.layers:
        if len(key) == 3:
            pairs.setdefault(key[:2], []).append(pos[-1])

    def score(genome):
        s = sum(math.log(1 + v) for v in genome)
        return s - sum(3.0 * abs(genome[p[0]] - genome[p[1]]) for p in pairs.values() if len(p) == 2)

    r0 = madds(space.spec(space.max_genome))
    budget = 0.5 * r0
    print(f'\n3. MCD vs SCD to 50% of {args.spec} MAdds at {args.size}x{args.size} ({len(space.layers)} layers), '
          'known evaluator (each block\'s convs best at equal grid positions):')
    print('| optimiser | J | L | r0 | iterations | samples | final score | final MAdds |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- |')
    rows = [('SCD (NetAdapt v1)', len(space.layers), 1, 0.015), ('MCD', len(space.layers), 4, 0.03)]
    res = {}
    for name, j, l, r in rows:
        t0 = time.time()
        st = MCD(space, madds, budget, j, l, r0=r, decay=0.98, seed=0).run(lambda xs: [score(x) for x in xs])
        res[name] = st
        print(f"| {name} | {j} | {l} | {r:.1%} | {st['iteration']} | {st['samples_evaluated']} | "
              f"{score(st['genome']):.2f} | {st['cost'] / 1e6:.3f}M | ({time.time() - t0:.0f} s)")
    ratio = res['SCD (NetAdapt v1)']['samples_evaluated'] / max(1, res['MCD']['samples_evaluated'])
    print(f'SCD needs {ratio:.2f}x the samples of MCD (the paper, Table 11: 1.9x)')


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.time()
    step_costs(args)
    scoring_rate(args)
    mcd_vs_scd(args)
    print(f'\ntotal {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()
