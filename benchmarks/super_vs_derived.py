#!/usr/bin/env python
"""Forward time of a super-net's sampled single path against the derived network of that path.

Both networks hold the same weights (the derived one receives the chosen candidates' parameters)
and are timed side by side, alternating, in one process, so that the ratio is meaningful on a
shared machine. The FNA++ target is a ratio of at most 1.1.

Usage::

    python benchmarks/super_vs_derived.py [--repeats 5] [--device cpu|cuda] [--cases mbv2_det resnet50]

Cases (the paper's input sizes): MobileNetV2 det space (Table 1) at 800x1088 with RetinaNet's outputs
(2, 4, 6); ResNet-50 space (Table 7) at 800x1333 with outputs (0, 1, 2, 3).
"""
import argparse
import os.path as osp
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402

CASES = {
    'mbv2_det': dict(spec='fna_mbv2_det', family='mbv2', out_indices=(2, 4, 6), size=(800, 1088)),
    'resnet50': dict(spec='fna_resnet50', family='resnet', out_indices=(0, 1, 2, 3), size=(800, 1333)),
}


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


@torch.no_grad()
def run_case(name, repeats, device, batch, seed):
    from mmadapt.cost import format_count
    from mmadapt.models import DerivedMobileNetV2, DerivedResNet, SuperMobileNetV2, SuperResNet
    case = CASES[name]
    sup_cls, der_cls = ((SuperMobileNetV2, DerivedMobileNetV2) if case['family'] == 'mbv2' else
                        (SuperResNet, DerivedResNet))
    torch.manual_seed(seed)
    sup = sup_cls(spec=case['spec'], out_indices=case['out_indices'], input_size=case['size'])
    path = sup.sample_path(torch.Generator().manual_seed(seed))
    derived = der_cls(spec=sup.path_spec(path), out_indices=case['out_indices'])
    derived.load_state_dict(sup.path_state_dict(), strict=True)
    sup.to(device).eval()
    derived.to(device).eval()
    x = torch.randn(batch, 3, *case['size'], device=device)
    for a, b in zip(sup(x), derived(x)):  # same function, so the timing compares like with like
        torch.testing.assert_close(a, b)
    times = {'super': [], 'derived': []}
    models = {'super': sup, 'derived': derived}
    for _ in range(2):  # warm-up
        sup(x)
        derived(x)
    for i in range(repeats):
        order = ('super', 'derived') if i % 2 == 0 else ('derived', 'super')
        for key in order:
            sync(device)
            t0 = time.perf_counter()
            models[key](x)
            sync(device)
            times[key].append(time.perf_counter() - t0)
    t_sup = statistics.median(times['super'])
    t_der = statistics.median(times['derived'])
    madds = sup.path_madds()
    print(f"| {name} | {case['size'][0]}x{case['size'][1]} | {format_count(madds)} | {t_sup * 1e3:.1f} | "
          f'{t_der * 1e3:.1f} | {t_sup / t_der:.3f} |', flush=True)
    return t_sup / t_der


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cases', nargs='+', default=list(CASES), choices=list(CASES))
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f'device: {device} ({torch.get_num_threads()} threads), batch {args.batch}, '
          f'median of {args.repeats} alternating runs')
    print('| case | input (HxW) | path MAdds | super single path (ms) | derived (ms) | ratio |')
    print('| --- | --- | --- | --- | --- | --- |')
    for name in args.cases:
        run_case(name, args.repeats, device, args.batch, args.seed)


if __name__ == '__main__':
    main()
