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


def main(argv=None):
    args = parse_args(argv)
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
