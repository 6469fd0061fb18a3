#!/usr/bin/env python
"""Export a model config + checkpoint to ONNX through mmdeploy, checked against PyTorch in ONNX Runtime.

Usage::

    python tools/deploy.py CONFIG CHECKPOINT --out DIR [--deploy-cfg configs/deploy/X.py | --shapes static|dynamic]
                           [--shape H W] [--img IMG ...] [--num-images 2] [--no-check] [--cfg-options k=v ...]

CONFIG is an mmdet / mmseg / mmpose / mmpretrain model config: a derived network of an mmadapt method
(the config a stage dumped into its folder, e.g. ``work_dirs/demo/fna/param/<name>.py``), a seed
network, a derived classifier, or ``config.py`` of ``tools/export_subnet.py`` (an elastic
sub-network or a DS-Net route). CHECKPOINT is its weights (``none``: random initialisation, for
latency figures only). The deploy config defaults to ``configs/deploy/<task>_onnxruntime_<shapes>.py``
(dynamic shapes for detection, static for segmentation, pose and classification).

DIR receives ``end2end.onnx``, ``deploy.json`` (the check's figures per image, the versions),
``model_cfg.py`` and ``deploy_cfg.py`` (the pair mmdeploy's own tools take). The export is checked on
real images (``--img``, else the first ``--num-images`` images of the config's test set): the ONNX
model in ONNX Runtime and the PyTorch model must agree within tolerance (``mmadapt.deploy.export``),
else nothing is written. Requires the deployment extra (``make install-deploy``).

DS-Net classifiers (one gate, ``mmadapt.DSBackbone``): ``--dsnet`` exports the gate graph and one graph
per route (``mmadapt.deploy.dsnet``: DIR/gate/gate.onnx, DIR/route_<k>/, DIR/dsnet.json), checked as a
runtime (gate argmax -> route graph) against the PyTorch dynamic model; ``--latency`` then times the
gate and every route in ONNX Runtime and PyTorch (one thread) and prints them::

    python tools/deploy.py CONFIG CHECKPOINT --out DIR --dsnet [--latency] [--num-images 8]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Export a model to ONNX (mmdeploy) and check it against PyTorch')
    p.add_argument('config', help='model config (mmdet, mmseg, mmpose or mmpretrain)')
    p.add_argument('checkpoint', help="checkpoint of the model, or 'none' (random weights)")
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--deploy-cfg', help='mmdeploy deploy config (default: configs/deploy/<task>_onnxruntime_*.py)')
    p.add_argument('--shapes', choices=['static', 'dynamic'], help='shapes of the default deploy config')
    p.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'), help='input shape of the export')
    p.add_argument('--img', nargs='+', help='images (or a folder) to export with and check on')
    p.add_argument('--num-images', type=int, default=2, help='test-set images to check on (default 2)')
    p.add_argument('--no-check', action='store_true', help='do not compare with PyTorch')
    p.add_argument('--device', default='cpu', help='device of the PyTorch model and of the check')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='override settings of the model config, key=value pairs')
    p.add_argument('--dsnet', action='store_true',
                   help='a single-gate DS-Net classifier: export the gate graph and one graph per route')
    p.add_argument('--latency', action='store_true',
                   help='with --dsnet: time the gate and every route (ONNX Runtime and PyTorch, one thread)')
    return p.parse_args(argv)


def summary_lines(report: dict) -> list:
    lines = [f"ONNX model: {report['onnx']} ({report['onnx_bytes'] / 1e6:.2f} MB, opset {report['opset']}, "
             f"{'dynamic' if report['dynamic'] else 'static'} shapes, exported in {report['export_seconds']:.1f} s)"]
    for c in report['checks']:
        figures = ', '.join(f'{k} {v:.3g}' if isinstance(v, float) else f'{k} {v}'
                            for k, v in c.items() if k not in ('image', 'ok'))
        lines.append(f"  {'match' if c['ok'] else 'MISMATCH'} on {osp.basename(c['image'])}: {figures}")
    if not report['checks']:
        lines.append('  not checked against PyTorch (--no-check)')
    return lines


def dsnet_lines(report: dict) -> list:
    """The summary of a DS-Net export (``dsnet.json``): the routes, the check and the latencies."""
    lines = [f"DS-Net: gate graph {report['gate']['onnx']} ({report['gate']['onnx_bytes'] / 1e6:.2f} MB), "
             f"{len(report['routes'])} route graphs taking the image (each recomputes the trunk: "
             f"{report['trunk_madds'] / 1e6:.3f}M MAdds)"]
    if report['checks']:
        same = sum(c['same_route'] for c in report['checks'])
        diff = max(c['max_score_diff'] for c in report['checks'])
        lines.append(f"  {'match' if report['passed'] else 'MISMATCH'}: same route on {same} of "
                     f"{len(report['checks'])} images, max score difference {diff:.3g}")
    lat = report.get('latency')
    for k, r in report['routes'].items():
        share = (report.get('route_share') or {}).get(k)
        line = f"  route {k}: {r['madds'] / 1e6:.3f}M MAdds"
        if share is not None:
            line += f', {100 * share:.0f}% of the check images'
        if lat:
            t = lat['routes'][k]
            line += (f", {t['onnxruntime']['median_ms']:.3f} ms ONNX Runtime, {t['pytorch']['median_ms']:.3f} ms "
                     f"PyTorch (trunk {100 * t['trunk_share_pytorch']:.0f}% of it)")
        lines.append(line)
    if lat:
        lines.append(f"  gate graph: {lat['gate']['onnxruntime']['median_ms']:.3f} ms ONNX Runtime, gate "
                     f"{lat['gate']['pytorch']['median_ms']:.3f} ms PyTorch (median, {lat['threads']} thread(s), "
                     f"{lat['device_name']})")
        if 'runtime_expected_ms' in lat:
            lines.append(f"  runtime per image (gate + routes by their share): {lat['runtime_expected_ms']:.3f} ms")
    return lines


def main_dsnet(args, checkpoint):
    from mmadapt.deploy import DeployError
    from mmadapt.deploy.dsnet import export_dsnet, latency_dsnet
    try:
        report = export_dsnet(args.config, checkpoint, args.out, img=args.img, check=not args.no_check,
                              num_images=args.num_images, cfg_options=args.cfg_options, deploy_cfg=args.deploy_cfg,
                              shape=args.shape, device=args.device)
        if args.latency:
            report['latency'] = latency_dsnet(args.out, threads=1, device=args.device)
    except DeployError as e:
        sys.exit(f'error: {e}')
    print('\n'.join(dsnet_lines(report)))
    print(f"written: {osp.join(args.out, 'gate', 'gate.onnx')}, route_<k>/, dsnet.json")
    return report


def main(argv=None):
    args = parse_args(argv)
    if args.latency and not args.dsnet:
        sys.exit('error: --latency is for --dsnet exports (other models: tools/analysis/benchmark_latency.py)')
    if args.dsnet:
        return main_dsnet(args, None if args.checkpoint.lower() == 'none' else args.checkpoint)
    from mmadapt.deploy import DeployError, export_onnx
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    try:
        report = export_onnx(args.config, checkpoint, args.out, deploy_cfg=args.deploy_cfg, img=args.img,
                             shape=args.shape, shapes=args.shapes, check=not args.no_check,
                             num_images=args.num_images, cfg_options=args.cfg_options, device=args.device)
    except DeployError as e:
        sys.exit(f'error: {e}')
    print('\n'.join(summary_lines(report)))
    print(f"written: {osp.join(args.out, 'end2end.onnx')}, deploy.json, model_cfg.py, deploy_cfg.py")
    return report


if __name__ == '__main__':
    main()
