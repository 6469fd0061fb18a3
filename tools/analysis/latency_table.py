#!/usr/bin/env python
"""Build (or extend) a latency lookup table for a spec space on this machine, and calibrate it.

Every unit (conv + BN + activation, max pool, residual add, shortcut zero-pad) of the given specs
is measured at its real input size: for a super-net spec, every candidate of every layer at the
widths the spec defines. The whole networks of the ``--calibrate`` specs are then measured with the
same protocol and the table's single calibration factor is fitted on them (median of measured /
predicted). See :mod:`mmadapt.cost.latency` for the model and the JSON format.

Usage::

    python tools/analysis/latency_table.py --specs SPEC [SPEC ...] --shape H W --out TABLE.json
        [--calibrate SPEC [SPEC ...]] [--batch 1] [--threads 1] [--warmup 10] [--repeats 30]
        [--device cpu|cuda] [--fit median|mean|affine] [--malloc keep|default] [--discard-mismatched]

Example::

    $ python tools/analysis/latency_table.py --specs fna_mbv2_det --shape 224 224 --threads 1 \\
          --calibrate mobilenet_v2 fbnet_c proxyless_mobile --out work_dirs/latency/cpu_t1.json
    Table: work_dirs/latency/cpu_t1.json (cpu: ..., torch ..., 1 threads, batch 1)
    ...

An existing ``--out`` file is extended: its entries are kept and only missing units are measured.
A file measured in another environment (device, torch version, threads) is refused unless
``--discard-mismatched`` is given, which starts the table afresh.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Build or extend a latency lookup table and calibrate it')
    parser.add_argument('--specs', nargs='+', default=[], metavar='SPEC',
                        help='specs whose units are measured: built-in names or spec files; a super-net '
                        'spec contributes every candidate of every layer')
    parser.add_argument('--calibrate', nargs='+', default=[], metavar='SPEC',
                        help='derived specs measured as whole networks to fit the calibration factor '
                        '(their units are measured too)')
    parser.add_argument('--shape', type=int, nargs='+', default=[224, 224],
                        help='input image size: H W, or one number for a square image (default 224 224)')
    parser.add_argument('--out', required=True, metavar='PATH.json', help='table file (created or extended)')
    parser.add_argument('--batch', type=int, default=1, help='batch size of every measurement (default 1)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads of every measurement (default 1)')
    parser.add_argument('--warmup', type=int, default=10, help='untimed runs before timing (default 10)')
    parser.add_argument('--repeats', type=int, default=30, help='timed runs; their median is kept (default 30)')
    parser.add_argument('--device', default='cpu', help="'cpu' (default) or 'cuda[:N]'")
    parser.add_argument('--fit', choices=['median', 'mean', 'affine'], default='median',
                        help='calibration fit: median (default, robust to one noisy network) or mean of the '
                        'measured / predicted ratios, or affine (a factor and an offset: the fixed cost of a whole '
                        'network; needs networks of different sizes)')
    parser.add_argument('--malloc', choices=['keep', 'default'], default='keep',
                        help="'keep' (default): glibc keeps freed memory in the heap (no per-forward page "
                        "faults of large feature maps; see mmadapt.cost.latency.keep_heap_memory); "
                        "'default': glibc's defaults")
    parser.add_argument('--discard-mismatched', action='store_true',
                        help='if --out was measured in another environment, drop its entries instead of failing')
    args = parser.parse_args(argv)
    if len(args.shape) == 1:
        args.shape = args.shape * 2
    if len(args.shape) != 2 or min(args.shape) < 1:
        parser.error(f'--shape takes H W (positive), got {args.shape}')
    for name in ('batch', 'threads', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1, got {getattr(args, name)}')
    if args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if not args.specs and not args.calibrate:
        parser.error('give --specs and/or --calibrate: there is nothing to measure')
    if not args.out.endswith('.json'):
        parser.error(f'--out must be a .json file, got {args.out}')
    return args


def main(argv=None):
    """Run the tool; returns the :class:`~mmadapt.cost.latency.LatencyTable` it wrote."""
    args = parse_args(argv)
    import mmadapt  # noqa: F401  (registers mmadapt's modules)
    from mmadapt.arch import SpecError, load_spec
    from mmadapt.cost.latency import (LatencyTable, TableMismatchError, calibrate, median_abs_rel_error,
                                      spearman, spec_units)
    from mmadapt.cost.latency import current_allocator, keep_heap_memory
    from mmadapt.models import build_spec_backbone
    hw = tuple(args.shape)
    try:
        specs = [load_spec(s) for s in args.specs]
        calib = [load_spec(s) for s in args.calibrate]
    except SpecError as e:
        sys.exit(f'error: {e}')
    for spec in calib:
        if not spec.is_derived:
            sys.exit(f'error: --calibrate {spec.name!r} has searchable layers; calibration measures whole '
                     'derived networks (derive a spec first)')
    if args.malloc == 'keep' and not keep_heap_memory():
        print('note: mallopt is not available (not glibc); measuring with the default allocator')
    try:
        if osp.exists(args.out):
            table = LatencyTable.load(args.out, args.device, args.threads,
                                      on_mismatch='drop' if args.discard_mismatched else 'error')
            table.batch, table.warmup, table.repeats = args.batch, args.warmup, args.repeats
        else:
            table = LatencyTable(args.device, args.threads, args.batch, args.warmup, args.repeats)
    except TableMismatchError as e:
        sys.exit(f'error: {e} (or pass --discard-mismatched)')
    except ValueError as e:
        sys.exit(f'error: {e}')
    if table.allocator != current_allocator():
        sys.exit(f'error: {args.out} was measured with --malloc {table.allocator}, this run uses '
                 f'{current_allocator()}; pass --malloc {table.allocator} to extend it')
    print(f'Table: {args.out} ({table.device_name}, torch {table.torch_version}, {table.threads} threads, '
          f'batch {table.batch}, allocator {table.allocator}); {len(table)} entries already')

    units = []
    for spec in specs + calib:
        found = spec_units(spec, hw, table.batch).all_units()
        print(f'{spec.name}: {len(found)} distinct units at {hw[0]}x{hw[1]}')
        units += found
    start = time.perf_counter()
    measured = table.measure(units)
    print(f'Measured {measured} new entries in {time.perf_counter() - start:.1f} s '
          f'(warm-up {table.warmup}, median of {table.repeats}); {len(table)} entries in all')
    table.save(args.out)  # keep the entries even if the calibration fails

    if calib:
        networks = [build_spec_backbone(spec) for spec in calib]
        factor = calibrate(table, calib, hw, method=args.fit, networks=networks)
        rows = table.calibration['networks']
        meas = [r['measured_ms'] for r in rows]
        raw = [r['predicted_raw_ms'] for r in rows]
        cal = [factor * p + table.offset for p in raw]
        width = max(12, max(len(r['spec']) for r in rows))
        print(f"\n{'network':<{width}}  {'measured ms':>11}  {'raw ms':>9}  {'calibrated ms':>13}  "
              f"{'raw err':>8}  {'cal err':>8}")
        for r, c in zip(rows, cal):
            m, p = r['measured_ms'], r['predicted_raw_ms']
            print(f"{r['spec']:<{width}}  {m:>11.3f}  {p:>9.3f}  {c:>13.3f}  {(p - m) / m:>+8.1%}  "
                  f'{(c - m) / m:>+8.1%}')
        print(f'Calibration factor: {factor:.4f} ({args.fit} of measured / predicted over {len(rows)} networks)')
        print(f'Median abs error: raw {median_abs_rel_error(raw, meas):.1%}, calibrated '
              f'{median_abs_rel_error(cal, meas):.1%} (in-sample: fitted on these networks)')
        if len(rows) > 1:
            print(f'Spearman rank correlation (predicted vs measured): {spearman(raw, meas):.3f}')
        table.save(args.out)
    print(f'Wrote {args.out}')
    return table


if __name__ == '__main__':
    main()
