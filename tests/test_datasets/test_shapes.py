"""The built-in shapes generator: determinism, formats, bad input, and the stock datasets."""
import json
import os
import os.path as osp
import subprocess

import numpy as np
import pytest
from PIL import Image

from mmadapt.datasets import SEG_CLASSES, SHAPE_CLASSES, ShapesArgumentError, make_shapes
from mmadapt.datasets import shapes as shapes_mod

from ..conftest import TINY, folder_digest, python, tool


@pytest.mark.parametrize('task', ['det', 'seg', 'pose', 'cls'])
def test_same_arguments_same_bytes(tmp_path, task):
    make_shapes(task, str(tmp_path / 'a'), 6, 2, 64, seed=3)
    make_shapes(task, str(tmp_path / 'b'), 6, 2, 64, seed=3)
    make_shapes(task, str(tmp_path / 'c'), 6, 2, 64, seed=4)
    assert folder_digest(tmp_path / 'a') == folder_digest(tmp_path / 'b')
    assert folder_digest(tmp_path / 'a') != folder_digest(tmp_path / 'c')


def test_more_images_keep_the_first_ones(tmp_path):
    make_shapes('seg', str(tmp_path / 'small'), 3, 0, 64, seed=1)
    make_shapes('seg', str(tmp_path / 'large'), 6, 0, 64, seed=1)
    for i in range(3):
        for sub in ('img_dir', 'ann_dir'):
            a = np.asarray(Image.open(tmp_path / 'small' / sub / 'train' / f'{i:06d}.png'))
            b = np.asarray(Image.open(tmp_path / 'large' / sub / 'train' / f'{i:06d}.png'))
            assert np.array_equal(a, b)


@pytest.mark.parametrize('kwargs, match', [
    (dict(task='segm'), "unknown task 'segm'; allowed: det, seg, pose, cls"),
    (dict(num_train=-1), 'num_train must be a non-negative integer, got -1'),
    (dict(num_val=-5), 'num_val must be a non-negative integer, got -5'),
    (dict(num_train=0, num_val=0), 'nothing to generate'),
    (dict(size=24), 'size 24 is too small for the objects'),
])
def test_bad_arguments_name_the_problem(tmp_path, kwargs, match):
    args = dict(task='det', out=str(tmp_path / 'out'), num_train=2, num_val=1, size=64)
    args.update(kwargs)
    with pytest.raises(ShapesArgumentError, match=match):
        make_shapes(**args)
    assert not (tmp_path / 'out').exists()


def test_cli_reports_errors_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / 'd'
    proc = subprocess.run([python(), tool('data/make_shapes.py'), '--task', 'poses', '--out',
                           str(out)], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown task 'poses'" in proc.stderr
    ok = subprocess.run([python(), tool('data/make_shapes.py'), '--task', 'cls', '--out', str(out),
                         '--num-train', '4', '--num-val', '4', '--size', '32'],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert 'wrote shapes/cls' in ok.stdout
    again = subprocess.run([python(), tool('data/make_shapes.py'), '--task', 'cls', '--out',
                            str(out)], capture_output=True, text=True)
    assert again.returncode == 2 and 'exists' in again.stderr


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def failing_writer(out, split, num, size, seed):
        calls.append(split)
        if split == 'val':
            raise KeyboardInterrupt
        os.makedirs(osp.join(out, 'partial'))

    monkeypatch.setitem(shapes_mod._WRITERS, 'det', failing_writer)
    with pytest.raises(KeyboardInterrupt):
        make_shapes('det', str(tmp_path / 'out'), 2, 2, 64)
    assert calls == ['train', 'val']
    assert os.listdir(tmp_path) == []


def test_det_annotations_are_consistent(shapes_root):
    root = shapes_root / 'det'
    coco = json.loads((root / 'annotations' / 'train.json').read_text())
    _, n_train, _, size = TINY['det']
    assert len(coco['images']) == n_train
    assert [c['name'] for c in coco['categories']] == list(SHAPE_CLASSES)
    from pycocotools import mask as mask_util
    assert len(coco['annotations']) >= n_train  # every image holds at least one shape
    for ann in coco['annotations']:
        x, y, w, h = ann['bbox']
        assert 0 <= x and 0 <= y and x + w <= size and y + h <= size and w > 0 and h > 0
        m = mask_util.decode(ann['segmentation'])
        assert m.sum() == ann['area']  # the area is the visible mask
        ys, xs = np.nonzero(m)
        assert [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()] == \
            [x, y, w, h]  # the box is the tight box of the visible mask


def test_pose_keypoints(shapes_root):
    coco = json.loads((shapes_root / 'pose' / 'annotations' / 'train.json').read_text())
    cat = coco['categories'][0]
    assert cat['keypoints'] == list(shapes_mod.POSE_KEYPOINTS)
    for ann in coco['annotations']:
        kps = np.array(ann['keypoints']).reshape(-1, 3)
        assert kps.shape == (7, 3)
        assert set(kps[:, 2]) <= {0, 1, 2}
        assert ann['num_keypoints'] == int((kps[:, 2] > 0).sum())
        x, y, w, h = ann['bbox']
        vis = kps[kps[:, 2] > 0]
        assert (vis[:, 0] >= x - 1).all() and (vis[:, 0] <= x + w + 1).all()
        assert (vis[:, 1] >= y - 1).all() and (vis[:, 1] <= y + h + 1).all()
        # the figure's left hand is on the figure's left of the neck->hip axis
        neck, hip, lh, rh = kps[1, :2], kps[2, :2], kps[3, :2], kps[4, :2]
        if (kps[[1, 2, 3, 4], 2] > 0).all():
            axis = hip - neck
            side = lambda p: np.sign(axis[0] * (p - neck)[1] - axis[1] * (p - neck)[0])  # noqa
            assert side(lh) != side(rh) or side(lh) == 0


def test_mmdet_coco_dataset_loads_it(shapes_root):
    from mmdet.datasets import CocoDataset
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    _, n_train, n_val, _ = TINY['det']
    for split, n in (('train', n_train), ('val', n_val)):
        ds = CocoDataset(data_root=str(shapes_root / 'det'), ann_file=f'annotations/{split}.json',
                         data_prefix=dict(img=f'images/{split}/'), metainfo=dict(
                             classes=SHAPE_CLASSES), test_mode=True, pipeline=[])
        assert len(ds) == n
        assert ds.metainfo['classes'] == SHAPE_CLASSES
        info = ds.get_data_info(0)
        assert osp.isfile(info['img_path'])
        labels = {inst['bbox_label'] for i in range(n) for inst in ds.get_data_info(i)['instances']}
        assert labels <= set(range(len(SHAPE_CLASSES)))


def test_mmseg_dataset_loads_it(shapes_root):
    from mmengine.registry import init_default_scope
    from mmseg.datasets import BaseSegDataset
    init_default_scope('mmseg')
    _, n_train, n_val, size = TINY['seg']
    ds = BaseSegDataset(data_root=str(shapes_root / 'seg'), img_suffix='.png',
                        seg_map_suffix='.png', metainfo=dict(classes=SEG_CLASSES),
                        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'))
    assert len(ds) == n_train
    assert ds.metainfo['classes'] == SEG_CLASSES
    values = set()
    for i in range(len(ds)):
        label = np.asarray(Image.open(ds.get_data_info(i)['seg_map_path']))
        assert label.shape == (size, size)
        values |= set(np.unique(label).tolist())
    assert 0 in values and values <= set(range(len(SEG_CLASSES))) and len(values) > 2


def test_mmpose_coco_dataset_loads_it(shapes_root):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.datasets import CocoDataset
    init_default_scope('mmpose')
    info = Config.fromfile(osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))),
                                    'configs/_base_/datasets/shapes_pose_info.py')).dataset_info
    coco = json.loads((shapes_root / 'pose' / 'annotations' / 'val.json').read_text())
    ds = CocoDataset(data_root=str(shapes_root / 'pose'), ann_file='annotations/val.json',
                     data_prefix=dict(img='images/val/'), metainfo=info, test_mode=True,
                     pipeline=[])
    assert len(ds) == len(coco['annotations'])  # top-down: one sample per figure
    assert ds.metainfo['num_keypoints'] == 7
    assert ds.metainfo['flip_indices'] == [0, 1, 2, 4, 3, 6, 5]
    sample = ds.get_data_info(0)
    assert sample['keypoints'].shape == (1, 7, 2)


def test_mmpretrain_custom_dataset_loads_it(shapes_root):
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets import CustomDataset
    init_default_scope('mmpretrain')
    _, n_train, _, _ = TINY['cls']
    # with the annotation file
    ds = CustomDataset(data_root=str(shapes_root / 'cls'), ann_file='meta/train.txt',
                       data_prefix='train', metainfo=dict(classes=SHAPE_CLASSES), pipeline=[])
    assert len(ds) == n_train
    labels = [ds.get_data_info(i)['gt_label'] for i in range(len(ds))]
    assert np.bincount(labels).tolist() == [n_train // 4] * 4  # balanced classes
    # and by scanning the class folders
    scanned = CustomDataset(data_root=str(shapes_root / 'cls'), data_prefix='train', pipeline=[])
    assert len(scanned) == n_train
    assert sorted(scanned.metainfo['classes']) == sorted(SHAPE_CLASSES)
