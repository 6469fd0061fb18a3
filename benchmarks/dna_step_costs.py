#!/usr/bin/env python
"""What a DNA search step costs, measured side by side in one run.

For the classifier of ``configs/dna/mobilenetv2_shapes.py`` (MobileNetV2 1.0 and the other seeds given
with ``--seeds``) built as DNA's search network (an elastic backbone at the bank spec), three steps
are timed alternately on the same synthetic batch:

* **plain**: one training step (forward, backward, optimizer step) of the round's full (extended)
  network, the reference;
* **phase 1**: one step of Eq. 1, ``M`` random sub-networks + the full + the smallest, gradients
  accumulated, one optimizer step (``M = 2``: four forward/backward passes);
* **phase 2**: one step of alpha: the extended network gated by the Markov marginals (Eq. 4), the
  exact expected MAdds and the budget loss (Eq. 5-8), gradients for alpha only, an Adam step.

Each is printed in milliseconds (median of alternating repeats) and divided by the plain step.
Usage::

    python benchmarks/dna_step_costs.py [--seeds mobilenet_v2 resnet18] [--batch 64] [--size 32]
                                        [--repeats 9] [--threads 2] [--num-subnets 2]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

from elastic_costs import alternate  # noqa: E402  (the timing of the elastic benchmark: medians of alternating runs)

CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'dna', 'mobilenetv2_shapes.py')
HEADS = {'mobilenet_v2': ('mmadapt.DerivedMobileNetV2', (7, ), 1280), 'resnet18': ('mmadapt.DerivedResNet', (3, ), 512),
         'resnet50': ('mmadapt.DerivedResNet', (3, ), 2048), 'mobilenet_v1': ('mmadapt.DerivedMobileNetV1', (4, ), 1024)}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', nargs='+', default=['mobilenet_v2', 'resnet18'], choices=sorted(HEADS))
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--repeats', type=int, default=9)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--num-subnets', type=int, default=2)
    return p.parse_args(argv)


def build(seed_name, args):
    from mmengine.config import Config
    from mmengine.optim import OptimWrapper
    from mmpretrain.structures import DataSample

    from mmadapt.arch import load_spec
    from mmadapt.cost.config_cost import build_model_from_config
    from mmadapt.methods.dna.pipeline import search_config
    from mmadapt.methods.dna.settings import dna_settings
    from mmadapt.methods.dna.space import DNASpace, bank_spec, unit_groups
    cfg = Config.fromfile(CONFIG)
    kind, out_indices, head = HEADS[seed_name]
    cfg.model.backbone = dict(type=kind, spec=seed_name, out_indices=out_indices)
    cfg.model.head.in_channels = head
    dna = dna_settings(cfg)
    seed = load_spec(seed_name)
    groups = unit_groups(seed, 10, 20, out_indices)
    max_blocks = [st.depth + 1 for st in seed.stages]
    bank, groups = bank_spec(seed, groups, max_blocks, out_indices)
    space = DNASpace(seed, groups, max_blocks, True, True, (args.size, args.size), 4, out_indices)
    model = build_model_from_config(search_config(cfg, dna, seed, bank, None))
    model.train()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    g = torch.Generator().manual_seed(0)
    batch = dict(inputs=[torch.randint(0, 256, (3, args.size, args.size), dtype=torch.uint8, generator=g)
                         for _ in range(args.batch)],
                 data_samples=[DataSample().set_gt_label(int(i) % 4) for i in range(args.batch)])
    return model, optim, space, batch


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import mmadapt  # noqa: F401
    from mmadapt.methods.dna.loop import alpha_step, sandwich_step
    print(f'# DNA step costs (batch {args.batch}, {args.size}x{args.size}, {args.threads} threads, M = '
          f'{args.num_subnets}, CPU, torch {torch.__version__})\n')
    print('| seed | plain step of the full network (ms) | phase-1 step (ms) | / plain | phase-2 step (ms) | / plain |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name in args.seeds:
        model, optim, space, batch = build(name, args)
        backbone = model.backbone
        alphas = space.init_alphas()
        adam = torch.optim.Adam(list(alphas.values()), lr=0.01)
        budget = 0.6 * space.cost_of(space.center)
        gen = torch.Generator().manual_seed(1)

        def plain():
            backbone.set_subnet(space.extended)
            data = model.data_preprocessor(batch, True)
            loss, _ = model.parse_losses(model._run_forward(data, mode='loss'))
            optim.update_params(loss)

        fns = dict(plain=plain,
                   phase1=lambda: sandwich_step(model, backbone, space, args.num_subnets, batch, optim, gen),
                   phase2=lambda: alpha_step(model, backbone, space, alphas, adam, batch, budget, 0.1))
        t = alternate(fns, args.repeats, torch.device('cpu'))
        print(f"| {name} | {t['plain'] * 1e3:.1f} | {t['phase1'] * 1e3:.1f} | {t['phase1'] / t['plain']:.2f} | "
              f"{t['phase2'] * 1e3:.1f} | {t['phase2'] / t['plain']:.2f} |", flush=True)


if __name__ == '__main__':
    main()
