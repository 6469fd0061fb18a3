#!/usr/bin/env python
"""Latency of a model config in PyTorch and ONNX Runtime, measured side by side on this machine.

Usage::

    python tools/analysis/benchmark_latency.py CONFIG [CHECKPOINT] [--onnx DIR/end2end.onnx] [--shape H W]
        [--batch 1] [--threads 1] [--warmup 10] [--repeats 50] [--backends pytorch pytorch_net pytorch_graph onnxruntime]
        [--device cpu] [--out FILE.json]

Without ``--onnx`` the model is exported first (``tools/deploy.py``'s export, unchecked, into a
temporary folder). Rows (see ``mmadapt.deploy.latency``): ``pytorch`` is the model's own inference
(``mode='predict'``, post-processing included), ``pytorch_net`` the network alone (``mode='tensor'``,
what the MAdds count), ``pytorch_graph`` mmdeploy's rewritten forward (the
computation of the ONNX graph) in PyTorch, ``onnxruntime`` the ONNX model. Every figure is per call on
one preprocessed batch: median, 10th-90th percentile, minimum, per image. Requires the deployment extra
(``make install-deploy``).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Latency of a config in PyTorch and ONNX Runtime')
    p.add_argument('config', help='model config (mmdet, mmseg, mmpose or mmpretrain)')
    p.add_argument('checkpoint', nargs='?', default=None, help='checkpoint (default: random weights)')
    p.add_argument('--onnx', help='the exported end2end.onnx (default: export now)')
    p.add_argument('--deploy-cfg', help='mmdeploy deploy config of the export')
    p.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), help='input shape (static export / image)')
    p.add_argument('--img', help='input image (default: the first test-set image)')
    p.add_argument('--batch', type=int, default=1)
    p.add_argument('--threads', type=int, default=1, help='threads of PyTorch and ONNX Runtime (0: their defaults)')
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--repeats', type=int, default=50)
    p.add_argument('--backends', nargs='+', default=['pytorch', 'pytorch_net', 'pytorch_graph', 'onnxruntime'])
    p.add_argument('--device', default='cpu')
    p.add_argument('--out', help='also write the figures to this JSON file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None)
    return p.parse_args(argv)


def table(result: dict) -> list:
    lines = [f"{result['config']} ({result['task']}); input {'x'.join(map(str, result['input_shape']))}, batch "
             f"{result['batch']}, {result['threads']} thread(s), {result['warmup']} warm-up + "
             f"{next(iter(result['rows'].values()))['repeats']} timed calls; {result['device_name']}; "
             f"onnxruntime {result['versions']['onnxruntime']}, torch {result['versions']['torch']}"
             + (f"; {result['note']}" if result.get('note') else ''),
             '', '| backend | median ms | p10-p90 ms | min ms | per image ms |', '| --- | --- | --- | --- | --- |']
    for k, r in result['rows'].items():
        lines.append(f"| {k} | {r['median_ms']:.3f} | {r['p10_ms']:.3f}-{r['p90_ms']:.3f} | {r['min_ms']:.3f} | "
                     f"{r['per_image_ms']:.3f} |")
    if 'pytorch' in result['rows'] and 'onnxruntime' in result['rows']:
        lines += ['', f"onnxruntime / pytorch: "
                  f"{result['rows']['onnxruntime']['median_ms'] / result['rows']['pytorch']['median_ms']:.2f}"]
    return lines


def main(argv=None):
    args = parse_args(argv)
    from mmadapt.deploy import DeployError
    from mmadapt.deploy.latency import benchmark_latency
    try:
        result = benchmark_latency(args.config, args.checkpoint, onnx=args.onnx, shape=args.shape, batch=args.batch,
                                   threads=args.threads or None, warmup=args.warmup, repeats=args.repeats,
                                   backends=args.backends, img=args.img, device=args.device,
                                   cfg_options=args.cfg_options, deploy_cfg=args.deploy_cfg)
    except DeployError as e:
        sys.exit(f'error: {e}')
    print('\n'.join(table(result)))
    if args.out:
        from mmadapt.utils.fileio import atomic_write_text
        atomic_write_text(args.out, json.dumps(result, indent=1, default=str) + '\n')
        print(f'written: {args.out}')
    return result


if __name__ == '__main__':
    main()
