"""The shapes depth task: NYU Depth V2's layout read by mmseg's NYUDataset unchanged, geometry that
makes depth learnable (nearer shapes over a farther plane, size ~ 1/depth, shading), determinism."""
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from mmadapt.datasets import make_shapes
from mmadapt.datasets import shapes as shapes_mod
from mmadapt.datasets.shapes import DEPTH_SCALE, depth_shading, plane_depth
from mmadapt.utils import DataNotFoundError, check_data, data_root_options

from ..conftest import ROOT, folder_digest

N_TRAIN, N_VAL, SIZE = 10, 4, 64
SPLITS = (('train', N_TRAIN), ('test', N_VAL))  # NYU's folder names: the val images are in `test`


@pytest.fixture(scope='module')
def depth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes_depth') / 'depth'
    make_shapes('depth', str(root), N_TRAIN, N_VAL, SIZE, seed=0)
    return root


def _nyu(root, split, pipeline=()):
    from mmengine.registry import init_default_scope
    from mmseg.datasets import NYUDataset
    init_default_scope('mmseg')
    return NYUDataset(data_root=str(root), test_mode=split == 'test', pipeline=list(pipeline),
                      data_prefix=dict(img_path=f'images/{split}', depth_map_path=f'annotations/{split}'))


def _objects(root, split):
    with open(osp.join(root, 'meta', f'{split}.json'), encoding='utf-8') as f:
        return json.load(f)['images']


def test_layout_and_meta(depth_root):
    meta = json.loads((depth_root / 'meta.json').read_text())
    assert meta['task'] == 'depth' and meta['depth_scale'] == 1000 and meta['depth_unit'] == 'mm'
    assert meta['split_dirs'] == {'train': 'train', 'val': 'test'}
    for split, n in SPLITS:
        images = sorted(p.name for p in (depth_root / 'images' / split).iterdir())
        depths = sorted(p.name for p in (depth_root / 'annotations' / split).iterdir())
        assert images == [f'{i:06d}.jpg' for i in range(n)]
        assert depths == [f'{i:06d}.png' for i in range(n)]
        assert [r['file_name'] for r in _objects(depth_root, split)] == images
    assert not (depth_root / 'images' / 'val').exists()


def test_nyu_dataset_reads_every_sample(depth_root):
    """mmseg's own NYU pipeline pieces (LoadDepthAnnotation in mm -> m, PackSegInputs) on every sample."""
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadDepthAnnotation', depth_rescale_factor=1e-3),
                dict(type='PackSegInputs')]
    for split, n in SPLITS:
        ds = _nyu(depth_root, split, pipeline)
        assert len(ds) == n
        for i in range(n):
            data = ds[i]
            assert tuple(data['inputs'].shape) == (3, SIZE, SIZE)
            depth = data['data_samples'].gt_depth_map.data
            assert tuple(depth.shape) == (1, SIZE, SIZE)
            # shapes at 1-4.5 m, the plane at 3.5-9.5 m; every pixel has a depth (no zeros)
            assert 1.0 <= float(depth.min()) and float(depth.max()) <= 9.5 + 1e-3, (split, i)
            assert float(depth.std()) > 0.1


def test_nearer_shapes_cover_a_farther_plane(depth_root):
    """Each shape (rebuilt from meta/{split}.json) lies at least 0.25 m in front of the plane under all of
    it; its pixels not covered by a nearer shape hold its depth (nearer shapes are painted over farther
    ones); its drawn radius is size * R / Z; every other pixel is exactly the plane of the meta file."""
    import cv2
    checked = 0
    for split, _ in SPLITS:
        for rec in _objects(depth_root, split):
            mm = cv2.imread(str(depth_root / 'annotations' / split / rec['file_name'].replace('.jpg', '.png')),
                            cv2.IMREAD_UNCHANGED)
            assert mm.dtype == np.uint16
            p = rec['plane']
            plane = plane_depth(SIZE, p['near'], p['far'], p['angle'])
            depths = [obj['depth'] for obj in rec['objects']]
            assert depths == sorted(depths, reverse=True)  # listed (and painted) from the farthest
            covered = np.zeros(mm.shape, bool)
            for obj in rec['objects'][::-1]:  # the nearest first
                full = shapes_mod._shape_mask(SIZE, obj['cls'], *obj['centre'], obj['radius_px'], obj['theta'],
                                              obj['aspect'])
                assert (plane[full] >= obj['depth'] + 0.25).all()
                visible = full & ~covered
                assert visible.sum() == obj['visible_pixels'] > 0
                assert (mm[visible] == round(obj['depth'] * DEPTH_SCALE)).all()
                assert obj['radius_px'] == pytest.approx(SIZE * obj['radius_m'] / obj['depth'])
                covered |= full
                checked += 1
            np.testing.assert_array_equal(mm[~covered], np.round(plane[~covered] * DEPTH_SCALE).astype(np.uint16))
    assert checked >= N_TRAIN  # 1-4 shapes per image


def test_farther_is_darker(depth_root):
    """On the plane (shapes left out), the farthest quarter of the pixels is darker than the nearest one."""
    import cv2
    from PIL import Image
    ratios = []
    for rec in _objects(depth_root, 'train'):
        img = np.asarray(Image.open(depth_root / 'images' / 'train' / rec['file_name']), np.float64).mean(-1)
        mm = cv2.imread(str(depth_root / 'annotations' / 'train' / rec['file_name'].replace('.jpg', '.png')),
                        cv2.IMREAD_UNCHANGED)
        p = rec['plane']
        plane = plane_depth(SIZE, p['near'], p['far'], p['angle'])
        free = mm == np.round(plane * DEPTH_SCALE)
        lo, hi = np.quantile(plane[free], [0.25, 0.75])
        ratios.append(img[free & (plane >= hi)].mean() / img[free & (plane <= lo)].mean())
    assert np.mean(ratios) < 0.9 and max(ratios) < 1.0, ratios
    assert depth_shading(np.array([9.0]))[0] < depth_shading(np.array([1.0]))[0]


def test_same_arguments_same_bytes(tmp_path):
    make_shapes('depth', str(tmp_path / 'a'), 4, 2, 48, seed=3)
    make_shapes('depth', str(tmp_path / 'b'), 4, 2, 48, seed=3)
    make_shapes('depth', str(tmp_path / 'c'), 4, 2, 48, seed=4)
    make_shapes('depth', str(tmp_path / 'd'), 6, 2, 48, seed=3)
    assert folder_digest(tmp_path / 'a') == folder_digest(tmp_path / 'b')
    assert folder_digest(tmp_path / 'a') != folder_digest(tmp_path / 'c')
    for sub in ('images/train/000003.jpg', 'annotations/train/000003.png', 'annotations/test/000001.png'):
        assert (tmp_path / 'a' / sub).read_bytes() == (tmp_path / 'd' / sub).read_bytes()  # more keeps the first


def test_cli_task_depth(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('make_shapes_cli', osp.join(ROOT, 'tools', 'data', 'make_shapes.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(['--task', 'depth', '--out', str(tmp_path / 'd'), '--num-train', '3', '--num-val', '1',
                     '--size', '32']) == 0
    assert 'wrote shapes/depth' in capsys.readouterr().out
    assert (tmp_path / 'd' / 'annotations' / 'test' / '000000.png').is_file()
    make_shapes('depth', str(tmp_path / 'e'), 3, 1, 32, seed=0)
    assert folder_digest(tmp_path / 'd') == folder_digest(tmp_path / 'e')


def test_missing_data_names_the_generating_command(tmp_path):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/fastdepth_shapes.py'))
    cfg.merge_from_dict(data_root_options(tmp_path / 'nowhere'))
    with pytest.raises(DataNotFoundError) as err:
        check_data(cfg)
    assert (f'make_shapes.py --task depth --out {tmp_path / "nowhere"} --num-train 800 --num-val 100 '
            '--size 64 --seed 0') in str(err.value)
    make_shapes('depth', str(tmp_path / 'nowhere'), 2, 1, 64)
    check_data(cfg)  # the generated folders are the ones the config reads
