"""FastDepth's NNConv5 head in mmseg's DepthEstimator: shapes with derived and elastic MobileNetV1,
skip wiring, the masked L1 loss, learning on a tiny batch, the configs, a 2-iteration run."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

from mmadapt.arch import ElasticSpace
from mmadapt.cost.config_cost import build_model_from_config
from mmadapt.datasets import make_shapes
from mmadapt.engine import build_runner, prepare_config
from mmadapt.models import DepthL1Loss, DerivedMobileNetV1, ElasticMobileNetV1, NNConv5Head

from ..conftest import ROOT, data_options

SHAPES_CONFIG = osp.join(ROOT, 'configs/_base_/fastdepth_shapes.py')
NYU_CONFIG = osp.join(ROOT, 'configs/_base_/fastdepth_nyu.py')
# a narrow MobileNetV1 (stage widths 16, 24, 32, 32, 48) and a decoder whose widths meet its skips
TINY_MBV1 = dict(name='tiny_mbv1', family='mbv1', act='relu', stem=dict(out_channels=8), stages=[
    dict(out_channels=16, stride=1, blocks=['k3']),
    dict(out_channels=24, stride=2, blocks=['k3']),
    dict(out_channels=32, stride=2, blocks=['k3']),
    dict(out_channels=32, stride=2, blocks=['k3']),
    dict(out_channels=48, stride=2, blocks=['k3']),
])
TINY_HEAD = dict(in_channels=(16, 24, 32, 48), in_index=(0, 1, 2, 3), decoder_channels=(40, 32, 24, 16, 8))


@pytest.fixture(scope='module')
def depth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('fastdepth') / 'depth'
    make_shapes('depth', str(root), 8, 4, 64, seed=0)
    return root


def _samples(depths):
    from mmseg.structures import SegDataSample
    out = []
    for d in depths:
        s = SegDataSample()
        s.gt_depth_map = PixelData(data=torch.as_tensor(d, dtype=torch.float32)[None])
        s.set_metainfo(dict(img_shape=d.shape, ori_shape=d.shape, pad_shape=d.shape))
        out.append(s)
    return out


def test_fastdepth_shapes_and_skips():
    torch.manual_seed(0)
    backbone = DerivedMobileNetV1(out_indices=(0, 1, 2, 4)).eval()
    head = NNConv5Head().eval()  # FastDepth's defaults: 64/128/256 skips, 1024 input, 512..32 decoder
    assert head.skip_stages == (1, 2, 3)
    assert [s.depthwise.conv.kernel_size for s in head.stages] == [(5, 5)] * 5
    assert [s.pointwise.conv.out_channels for s in head.stages] == [512, 256, 128, 64, 32]
    assert head.conv_seg.out_channels == 1 and head.conv_seg.kernel_size == (1, 1)
    with torch.no_grad():
        for size in (64, 96):
            feats = backbone(torch.randn(2, 3, size, size))
            assert [f.shape[1] for f in feats] == [64, 128, 256, 1024]
            assert tuple(head(feats).shape) == (2, 1, size, size)
    # an odd size: each skip joins at its own resolution, the output keeps 2x the last skip
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 72, 88))
        assert tuple(head(feats).shape) == (1, 1, 72, 88)


def test_elastic_backbone_with_padded_outputs():
    torch.manual_seed(0)
    backbone = ElasticMobileNetV1(out_indices=(0, 1, 2, 4)).eval()  # pad_outputs: max widths out
    head = NNConv5Head().eval()
    space = ElasticSpace(backbone.spec, width_ratios=(0.25, 0.5, 1.0), per='layer')
    derived_keys = set(DerivedMobileNetV1(out_indices=(0, 1, 2, 4)).state_dict())
    assert set(backbone.state_dict()) == derived_keys
    with torch.no_grad():
        for sub in (space.min(), space.sample(torch.Generator().manual_seed(0))):
            backbone.set_subnet(sub)
            feats = backbone(torch.randn(2, 3, 64, 64))
            assert [f.shape[1] for f in feats] == [64, 128, 256, 1024]
            out = head(feats)
            assert tuple(out.shape) == (2, 1, 64, 64) and torch.isfinite(out).all()


@pytest.mark.parametrize('kwargs, match', [
    (dict(decoder_channels=(512, 256, 100, 64, 32)), 'no decoder stage after stage 1 has the skip width 128'),
    (dict(skip_stages=(1, 2)), 'must name one decoder stage for each of the 3 skips'),
    (dict(skip_stages=(1, 3, 2)), 'must increase'),
    (dict(skip_stages=(0, 2, 3)), 'a skip of 256 channels cannot be added after decoder stage 0 of 512'),
    (dict(in_index=(0, 1, 2)), 'must be non-empty and of the same length'),
    (dict(kernel_size=4), 'kernel_size must be odd'),
    (dict(min_depth=0.0), 'need 0 < min_depth < max_depth'),
])
def test_bad_head_arguments_name_the_problem(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NNConv5Head(**kwargs)


def test_depth_l1_loss_masks_missing_depth():
    loss = DepthL1Loss()
    pred = torch.full((1, 1, 2, 2), 2.0, requires_grad=True)
    target = torch.tensor([[[[0.0, 3.0], [1.0, 0.0]]]])  # two pixels without depth
    value = loss(pred, target)
    assert value.item() == pytest.approx(1.0)
    value.backward()
    assert pred.grad[0, 0, 0, 0] == 0 and pred.grad[0, 0, 1, 1] == 0
    empty = loss(pred, torch.zeros(1, 1, 2, 2))
    assert empty.item() == 0.0 and empty.requires_grad
    assert DepthL1Loss(max_depth=2.0)(pred, target).item() == pytest.approx(1.0)  # only the 1 m pixel
    with pytest.raises(ValueError, match='differ in shape'):
        loss(pred, torch.zeros(1, 1, 4, 4))


def test_loss_decreases_and_predictions_are_clamped(depth_root):
    import cv2
    from PIL import Image
    names = ['000000', '000001']
    imgs = np.stack([np.asarray(Image.open(depth_root / 'images' / 'train' / f'{n}.jpg')) for n in names])
    depths = [cv2.imread(str(depth_root / 'annotations' / 'train' / f'{n}.png'), cv2.IMREAD_UNCHANGED) / 1000.0
              for n in names]
    x = (torch.as_tensor(imgs, dtype=torch.float32).permute(0, 3, 1, 2) - 128) / 64
    samples = _samples(depths)
    torch.manual_seed(0)
    backbone = DerivedMobileNetV1(spec=TINY_MBV1, out_indices=(0, 1, 2, 4))
    head = NNConv5Head(**TINY_HEAD)
    backbone.init_weights()
    head.init_weights()
    opt = torch.optim.Adam(list(backbone.parameters()) + list(head.parameters()), lr=0.05)
    losses = []
    for _ in range(12):
        value = head.loss(backbone(x), samples, None)['loss_l1']
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    assert losses[-1] < 0.5 * losses[0] and min(losses[-3:]) < min(losses[:3]), losses
    head.eval()
    with torch.no_grad():
        raw = head(backbone(x))
        pred = head.predict(backbone(x), [s.metainfo for s in samples], None)
    assert tuple(pred.shape) == (2, 1, 64, 64)
    assert float(pred.min()) >= head.min_depth and float(pred.max()) <= head.max_depth
    head.max_depth = 2.0
    assert float(head.predict_by_feat(raw, [s.metainfo for s in samples]).max()) <= 2.0


def test_configs_build():
    model = build_model_from_config(SHAPES_CONFIG)
    assert type(model).__name__ == 'DepthEstimator'
    assert type(model.backbone).__name__ == 'DerivedMobileNetV1' and model.backbone.out_indices == (0, 1, 2, 4)
    assert type(model.decode_head).__name__ == 'NNConv5Head' and model.decode_head.skip_stages == (1, 2, 3)
    assert type(model.decode_head.loss_decode).__name__ == 'DepthL1Loss'
    assert isinstance(model.backbone.stem.activate, torch.nn.ReLU)  # FastDepth's encoder uses ReLU
    model.eval()
    with torch.no_grad():
        assert tuple(model(torch.zeros(1, 3, 64, 64), mode='tensor').shape) == (1, 1, 64, 64)
    # the paper's NYU settings (NetAdaptV2 Sec. 4.2 / App. A)
    nyu = Config.fromfile(NYU_CONFIG)
    assert nyu.train_dataloader.batch_size == 16 and nyu.crop_size == (224, 224)
    assert nyu.optim_wrapper.optimizer.type == 'SGD' and nyu.optim_wrapper.optimizer.lr == 0.025
    assert nyu.param_scheduler[0].type == 'ExponentialLR' and nyu.param_scheduler[0].gamma == 0.9
    assert nyu.param_scheduler[0].by_epoch and nyu.train_cfg.max_epochs == 50
    assert nyu.data_root.rstrip('/') == 'data/nyu' and 'shapes' not in nyu and 'method' not in nyu
    assert nyu.train_dataloader.dataset.type == nyu.val_dataloader.dataset.type == 'NYUDataset'
    assert nyu.val_evaluator.type == 'DepthMetric' and nyu.val_evaluator.crop_type == 'nyu_crop'
    shapes = Config.fromfile(SHAPES_CONFIG)
    assert shapes.model == dict(nyu.model, data_preprocessor=dict(nyu.model.data_preprocessor, size=(64, 64)))
    assert shapes.shapes.task == 'depth'
    for evaluator in (shapes.val_evaluator, shapes.test_evaluator):  # the NYU crop is for 480x640 frames
        assert evaluator == dict(type='DepthMetric', min_depth_eval=1e-3, max_depth_eval=10.0)


def test_nyu_config_pipelines_on_nyu_sized_frames(depth_root, tmp_path):
    """The NYU config's pipelines on 480x640 frames in NYU's layout (generated ones, resized): training
    samples are 224x224 image and depth; test samples are 224x224 images with the full 480x640 depth."""
    import cv2
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    cfg = Config.fromfile(NYU_CONFIG)
    for split, loader in (('train', cfg.train_dataloader), ('test', cfg.val_dataloader)):
        for sub in ('images', 'annotations'):
            (tmp_path / sub / split).mkdir(parents=True)
        img = cv2.imread(str(depth_root / 'images' / split / '000000.jpg'))
        depth = cv2.imread(str(depth_root / 'annotations' / split / '000000.png'), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(tmp_path / 'images' / split / 'kitchen_0001.jpg'), cv2.resize(img, (640, 480)))
        cv2.imwrite(str(tmp_path / 'annotations' / split / 'kitchen_0001.png'),
                    cv2.resize(depth, (640, 480), interpolation=cv2.INTER_NEAREST))
        ds = DATASETS.build(dict(loader.dataset, data_root=str(tmp_path)))
        assert len(ds) == 1
        data = ds[0]
        sample = data['data_samples']
        assert tuple(data['inputs'].shape) == (3, 224, 224)
        assert tuple(sample.gt_depth_map.shape) == ((224, 224) if split == 'train' else (480, 640))
        assert sample.category_id == 6  # NYU's scene class from the file name ('kitchen')
        assert 1.0 <= float(sample.gt_depth_map.data[sample.gt_depth_map.data > 0].min())
        assert float(sample.gt_depth_map.data.max()) <= 9.5 + 1e-3


def test_two_iterations_report_depth_metrics(depth_root, tmp_path):
    opts = data_options(depth_root, 'fastdepth_shapes')
    opts.update({'train_dataloader.batch_size': 4, 'val_dataloader.batch_size': 4, 'train_cfg.max_epochs': 1,
                 'train_cfg.val_interval': 1})
    work_dir = tmp_path / 'work'
    cfg = prepare_config(SHAPES_CONFIG, work_dir=str(work_dir), cfg_options=opts)
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 2  # 8 images, batches of 4
    metrics = json.loads((work_dir / 'results.json').read_text())['val'][-1]['metrics']
    for key in ('d1', 'd2', 'd3', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log', 'log10', 'silog'):
        assert isinstance(metrics[key], float) and np.isfinite(metrics[key]), (key, metrics)
    assert 0.0 <= metrics['d1'] <= 1.0 and metrics['rmse'] > 0
