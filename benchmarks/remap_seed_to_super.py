#!/usr/bin/env python
"""Time to remap a seed into a full FNA++ search space, and the share of the super-net from the seed.

Seeds are torchvision models with their default initialisation (no download), saved to a temporary
checkpoint and read back through the seed adapter, as a user's checkpoint would be.

Usage::

    python benchmarks/remap_seed_to_super.py [--repeats 3]
"""
import argparse
import os.path as osp
import statistics
import sys
import tempfile
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

CASES = [
    # (torchvision model, seed spec, search space, super-net class)
    ('mobilenet_v2', 'mobilenet_v2', 'fna_mbv2_det', 'SuperMobileNetV2'),
    ('resnet50', 'resnet50', 'fna_resnet50', 'SuperResNet'),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args(argv)
    import torchvision

    import mmadapt.models as models
    from mmadapt.cost import format_count
    from mmadapt.remap import load_seed, remap_state_dict

    print(f'{torch.get_num_threads()} threads; median of {args.repeats} runs')
    print('| seed -> space | super-net params | build super-net (s) | read seed (s) | remap (s) | '
          'super-net elements from the seed |')
    print('| --- | --- | --- | --- | --- | --- |')
    with tempfile.TemporaryDirectory() as tmp:
        for tv_name, seed_spec, space, cls_name in CASES:
            path = osp.join(tmp, f'{tv_name}.pth')
            torch.save(getattr(torchvision.models, tv_name)().state_dict(), path)
            t0 = time.perf_counter()
            sup = getattr(models, cls_name)(spec=space)
            t_build = time.perf_counter() - t0
            template = sup.state_dict()
            reads, remaps = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                state, _ = load_seed(path, seed_spec)
                reads.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                _, report = remap_state_dict(seed_spec, state, space, template)
                remaps.append(time.perf_counter() - t0)
            n_params = sum(p.numel() for p in sup.parameters())
            print(f'| {seed_spec} -> {space} | {format_count(n_params)} | {t_build:.2f} | '
                  f'{statistics.median(reads):.2f} | {statistics.median(remaps):.2f} | '
                  f'{report.share_from_source:.1%} |', flush=True)


if __name__ == '__main__':
    main()
