"""tools/analysis/benchmark_latency.py: PyTorch and ONNX Runtime latency of a config, side by side."""
import json
import os.path as osp

import pytest
from mmengine.config import Config

pytest.importorskip('mmdeploy', reason='the deployment extra (make install-deploy) is not installed')

from ..conftest import ROOT, data_options  # noqa: E402


@pytest.fixture(scope='module')
def cls_config(shapes_root, tmp_path_factory):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/baselines/mobilenetv2_shapes_cls.py'))
    cfg.merge_from_dict(data_options(shapes_root / 'cls', 'latency'))
    path = str(tmp_path_factory.mktemp('latency') / 'cls.py')
    cfg.dump(path)
    return path


def test_latency_tool_prints_every_backend(cls_config, tmp_path, capsys):
    from tools.analysis.benchmark_latency import main
    out = tmp_path / 'latency.json'
    result = main([cls_config, '--repeats', '3', '--warmup', '1', '--out', str(out)])
    printed = capsys.readouterr().out
    for backend in ('pytorch', 'pytorch_net', 'pytorch_graph', 'onnxruntime'):
        row = result['rows'][backend]
        assert f'| {backend} | {row["median_ms"]:.3f} |' in printed
        assert row['repeats'] == 3 and 0 < row['min_ms'] <= row['median_ms'] <= row['p90_ms']
    assert 'batch 1, 1 thread(s), 1 warm-up + 3 timed calls' in printed and 'onnxruntime / pytorch:' in printed
    assert result['input_shape'] == [1, 3, 64, 64] and result['note'] == 'random weights (no checkpoint)'
    assert json.loads(out.read_text())['rows'].keys() == result['rows'].keys()


def test_latency_tool_errors(cls_config, tmp_path):
    from tools.analysis.benchmark_latency import main
    with pytest.raises(SystemExit, match=r"backends must be among \['pytorch', 'pytorch_net', 'pytorch_graph', "
                                         r"'onnxruntime'\], got \['tensorrt'\]"):
        main([cls_config, '--backends', 'tensorrt'])
    with pytest.raises(SystemExit, match='batch must be an integer >= 1, got 0'):
        main([cls_config, '--batch', '0'])
    # a batch of 2 exports with the dynamic deploy config; the same with a static one is refused
    static = osp.join(ROOT, 'configs/deploy/classification_onnxruntime_static.py')
    with pytest.raises(SystemExit, match='has a fixed batch of 1; batch 2 needs an export with a dynamic batch'):
        main([cls_config, '--batch', '2', '--deploy-cfg', static, '--repeats', '1', '--warmup', '0',
              '--backends', 'onnxruntime'])
    r = main([cls_config, '--batch', '2', '--repeats', '1', '--warmup', '0', '--backends', 'onnxruntime', 'pytorch'])
    assert r['input_shape'] == [2, 3, 64, 64] and r['rows']['onnxruntime']['per_image_ms'] > 0
