#!/usr/bin/env python
"""Cost of the search's steps, measured side by side in one process.

* weight step on the super-net (one sampled path) / training step of the derived network of the same
  path, both holding the same weights (target: at most 1.2);
* architecture step (mixture of all candidates, Eq. 7-9) / weight step.

The model is the shapes FNA RetinaNet (``configs/fna/retinanet_mbv2_shapes.py``) on generated shapes
images; each step is forward + backward + optimizer step on one batch.

Usage::

    python benchmarks/search_step_costs.py [--size 128] [--batch 8] [--repeats 10] [--config CONFIG]
"""
import argparse
import copy
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
                                                     'configs/fna/retinanet_mbv2_shapes.py'))
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--batch', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=10)
    args = parser.parse_args(argv)

    from mmengine.config import Config
    from mmengine.runner import Runner

    import mmadapt  # noqa: F401
    from mmadapt.cost.config_cost import build_model_from_config
    from mmadapt.datasets import make_shapes
    from mmadapt.engine.loops.arch_adapt import arch_step
    from mmadapt.utils import data_root_options

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        make_shapes('det', osp.join(tmp, 'det'), args.batch * 2, 2, args.size, seed=0)
        cfg = Config.fromfile(args.config)
        cfg.merge_from_dict(data_root_options(osp.join(tmp, 'det')))
        cfg.train_dataloader.batch_size = args.batch
        cfg.train_dataloader.num_workers = 0
        cfg.train_dataloader.persistent_workers = False
        cfg.model.backbone.input_size = (args.size, args.size)
        for t in cfg.train_dataloader.dataset.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (args.size, args.size)
        sup_model = build_model_from_config(cfg)
        loader = Runner.build_dataloader(copy.deepcopy(cfg.train_dataloader.to_dict()), seed=0)
        batch = next(iter(loader))
        backbone = sup_model.backbone
        path = backbone.sample_path(torch.Generator().manual_seed(0))
        dcfg = cfg.copy()
        dcfg.model.backbone = dict(type='mmadapt.DerivedMobileNetV2', spec=backbone.path_spec().to_dict(),
                                   out_indices=tuple(cfg.model.backbone.out_indices))
        der_model = build_model_from_config(dcfg)
        der_model.backbone.load_state_dict(backbone.path_state_dict(), strict=True)
        der_model.neck.load_state_dict(sup_model.neck.state_dict())
        der_model.bbox_head.load_state_dict(sup_model.bbox_head.state_dict())
        from mmengine.optim import OptimWrapper

        def wrapper(model):
            params = [p for n, p in model.named_parameters() if 'arch_params' not in n]
            return OptimWrapper(torch.optim.SGD(params, lr=1e-4, momentum=0.9))

        opt_sup, opt_der = wrapper(sup_model), wrapper(der_model)
        arch_opt = torch.optim.Adam(list(backbone.arch_parameters()), lr=3e-3)
        sup_model.train()
        der_model.train()

        steps = {
            'weight step (super-net, one path)': lambda: sup_model.train_step(batch, optim_wrapper=opt_sup),
            'training step (derived network)': lambda: der_model.train_step(batch, optim_wrapper=opt_der),
            'architecture step (mixture)': lambda: arch_step(sup_model, backbone, batch, 0.1,
                                                             (args.size, args.size), arch_opt),
        }
        times = {k: [] for k in steps}
        for _ in range(2):
            for fn in steps.values():
                fn()
                backbone.set_path(path)
        keys = list(steps)
        for i in range(args.repeats):
            for key in (keys if i % 2 == 0 else keys[::-1]):
                t0 = time.perf_counter()
                steps[key]()
                times[key].append(time.perf_counter() - t0)
                backbone.set_path(path)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f'{torch.get_num_threads()} threads, batch {args.batch} at {args.size}x{args.size}, median of '
          f'{args.repeats} alternating runs')
    print('| step | time (ms) |')
    print('| --- | --- |')
    for k, v in med.items():
        print(f'| {k} | {v * 1e3:.1f} |')
    w, d, a = med[keys[0]], med[keys[1]], med[keys[2]]
    print(f'\nweight step / derived training step: {w / d:.3f} (target <= 1.2)')
    print(f'architecture step / weight step: {a / w:.3f}')


if __name__ == '__main__':
    main()
