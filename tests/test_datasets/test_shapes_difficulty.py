"""The shapes classification generator's controlled difficulty (``difficulty='mixed'``)."""
import hashlib
import importlib.util
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from mmadapt.datasets import ShapesArgumentError, generate_command, make_shapes
from mmadapt.datasets import shapes as shapes_mod
from mmadapt.datasets.shapes import read_difficulty

from ..conftest import folder_digest, tool

N_TRAIN, N_VAL, SIZE = 40, 8, 32


def _annotations(root, split):
    with open(osp.join(root, 'meta', f'{split}.txt'), encoding='utf-8') as f:
        return [line.split() for line in f.read().splitlines()]


@pytest.fixture(scope='module')
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp('shapes_difficulty') / 'mixed'
    make_shapes('cls', str(root), N_TRAIN, N_VAL, SIZE, seed=0, difficulty='mixed')
    return str(root)


def test_default_output_is_unchanged(tmp_path):
    make_shapes('cls', str(tmp_path / 'default'), N_TRAIN, N_VAL, SIZE, seed=0)
    make_shapes('cls', str(tmp_path / 'none'), N_TRAIN, N_VAL, SIZE, seed=0, difficulty=None)
    assert folder_digest(tmp_path / 'default') == folder_digest(tmp_path / 'none')
    assert not (tmp_path / 'default' / 'meta' / 'difficulty_train.txt').exists()
    assert 'difficulty' not in json.loads((tmp_path / 'default' / 'meta.json').read_text())
    # the bytes the generator wrote before difficulty existed (recorded with that version): a
    # change here changes every classification set already generated
    img = (tmp_path / 'default' / 'train' / 'circle' / '000000.png').read_bytes()
    assert hashlib.sha256(img).hexdigest() == \
        '68e321faf09f62f5eebdde9f5e3e24d034f6e8c4ac4fdc387497c2d41971b0e2'
    assert folder_digest(tmp_path / 'default') == \
        '9b221820bb722eae7047a846564137214ddf3ec2d3e109aa23e20dd5b0c969e8'


def test_mixed_is_deterministic_and_differs_from_default(tmp_path, mixed):
    make_shapes('cls', str(tmp_path / 'again'), N_TRAIN, N_VAL, SIZE, seed=0, difficulty='mixed')
    assert folder_digest(tmp_path / 'again') == folder_digest(mixed)
    make_shapes('cls', str(tmp_path / 'seed1'), N_TRAIN, N_VAL, SIZE, seed=1, difficulty='mixed')
    assert folder_digest(tmp_path / 'seed1') != folder_digest(mixed)
    make_shapes('cls', str(tmp_path / 'default'), N_TRAIN, N_VAL, SIZE, seed=0)
    # same images named, same labels: only the pictures and the extra files differ
    assert _annotations(tmp_path / 'default', 'train') == _annotations(mixed, 'train')
    a = np.asarray(Image.open(tmp_path / 'default' / 'train' / 'circle' / '000000.png'))
    b = np.asarray(Image.open(osp.join(mixed, 'train', 'circle', '000000.png')))
    assert not np.array_equal(a, b)
    assert json.loads(open(osp.join(mixed, 'meta.json')).read())['difficulty'] == 'mixed'


def test_difficulty_file_follows_the_annotation_file(mixed):
    for split, n in (('train', N_TRAIN), ('val', N_VAL)):
        levels = read_difficulty(mixed, split)
        assert len(levels) == n and set(levels) <= {'easy', 'hard'}
        with open(osp.join(mixed, 'meta', f'difficulty_{split}.txt'), encoding='utf-8') as f:
            rows = [line.split() for line in f.read().splitlines()]
        assert [r[0] for r in rows] == [a[0] for a in _annotations(mixed, split)]
        assert [r[1] for r in rows] == levels
    levels = read_difficulty(mixed, 'train')
    assert 0.3 <= levels.count('hard') / len(levels) <= 0.7  # probability 1/2 each
    # both kinds in every class (labels are balanced, difficulty independent of the class)
    labels = [int(a[1]) for a in _annotations(mixed, 'train')]
    for kind in ('easy', 'hard'):
        assert {c for c, lv in zip(labels, levels) if lv == kind} == {0, 1, 2, 3}


def test_mmpretrain_reads_the_mixed_set_unchanged(mixed):
    from mmengine.registry import init_default_scope
    from mmpretrain.datasets import CustomDataset
    init_default_scope('mmpretrain')
    ds = CustomDataset(data_root=mixed, ann_file='meta/train.txt', data_prefix='train',
                       metainfo=dict(classes=shapes_mod.SHAPE_CLASSES), pipeline=[])
    assert len(ds) == N_TRAIN
    levels = read_difficulty(mixed, 'train')
    with open(osp.join(mixed, 'meta', 'difficulty_train.txt'), encoding='utf-8') as f:
        names = [line.split()[0] for line in f.read().splitlines()]
    for i in range(len(ds)):  # entry i of the difficulty list is sample i
        info = ds.get_data_info(i)
        assert info['img_path'].endswith(names[i])
    assert len(levels) == len(ds)
    scanned = CustomDataset(data_root=mixed, data_prefix='train', pipeline=[])
    assert len(scanned) == N_TRAIN  # the meta files do not show up as samples


def _scene(split, i, size=SIZE):
    """The image and visible shape mask of sample ``i`` of a mixed set of seed 0, and its kind."""
    rng = shapes_mod._rng(0, split, i)
    hard = bool(rng.random() < 0.5)
    img, vis, _ = shapes_mod._cls_scene(rng, size, i % len(shapes_mod.SHAPE_CLASSES), hard)
    return img, vis, 'hard' if hard else 'easy'


def test_easy_images_have_a_larger_cleaner_foreground(mixed):
    levels = read_difficulty(mixed, 'train')
    area = {'easy': [], 'hard': []}
    spread = {'easy': [], 'hard': []}
    contrast = {'easy': [], 'hard': []}
    for i, (rel, _) in enumerate(_annotations(mixed, 'train')):
        written = np.asarray(Image.open(osp.join(mixed, 'train', rel)))
        img, vis, kind = _scene('train', i)
        assert kind == levels[i] and np.array_equal(img, written)  # the same scene as the file
        area[kind].append(int(vis.sum()))
        f = written.astype(np.float64)
        # mean absolute difference from the image's median colour (L1 over the channels)
        spread[kind].append(np.abs(f - np.median(f.reshape(-1, 3), 0)).sum(-1).mean())
        ring = np.zeros_like(vis)
        for dy in (-2, 0, 2):
            for dx in (-2, 0, 2):
                ring |= np.roll(vis, (dy, dx), (0, 1))
        ring &= ~vis
        contrast[kind].append(np.abs(f[vis].mean(0) - f[ring].mean(0)).sum())
    # visible shape area: every easy shape larger than every hard one, ~8x on average
    assert min(area['easy']) > max(area['hard'])
    assert np.mean(area['easy']) > 4 * np.mean(area['hard'])
    assert min(area['hard']) >= 12  # still something to see
    # the image deviates from its median colour far more when it is easy
    assert np.mean(spread['easy']) > 2 * np.mean(spread['hard'])
    # the shape stands out from what surrounds it far more when it is easy
    assert np.median(contrast['easy']) > 2 * np.median(contrast['hard'])


def test_hard_shapes_are_partly_hidden_and_cluttered(monkeypatch):
    painted = []
    paint = shapes_mod._paint

    def recording_paint(img, mask, colour, rng):
        painted.append(mask)
        paint(img, mask, colour, rng)

    monkeypatch.setattr(shapes_mod, '_paint', recording_paint)
    hidden = []
    for i in range(N_TRAIN):
        rng = shapes_mod._rng(0, 'train', i)
        hard = bool(rng.random() < 0.5)
        painted.clear()
        _, vis, full = shapes_mod._cls_scene(rng, SIZE, i % 4, hard)
        if not hard:  # the shape alone, whole and wholly inside the frame
            assert len(painted) == 1 and np.array_equal(vis, full)
            assert not (full[0].any() or full[-1].any() or full[:, 0].any() or full[:, -1].any())
            continue
        # 2-4 distractor bars, the shape, and (nearly always) a bar across it
        assert 2 + 1 <= len(painted) <= 4 + 1 + 1
        assert vis.sum() >= shapes_mod.MIN_VISIBLE * full.sum()
        hidden.append(1 - vis.sum() / full.sum())
    assert len(hidden) >= 10
    assert np.mean([h > 0 for h in hidden]) >= 0.8  # most hard shapes are partly hidden
    assert np.mean(hidden) > 0.1


@pytest.mark.parametrize('kwargs, match', [
    (dict(difficulty='hard'), r"unknown difficulty 'hard' \(--difficulty\); allowed: mixed"),
    (dict(difficulty='Mixed'), r"unknown difficulty 'Mixed'"),
    (dict(task='det', difficulty='mixed'),
     r"difficulty 'mixed' \(--difficulty\) applies to the classification task only \(--task cls\), "
     r"not to task 'det'"),
    (dict(task='seg', difficulty='mixed'), r"not to task 'seg'"),
    (dict(task='pose', difficulty='mixed'), r"not to task 'pose'"),
])
def test_bad_difficulty_names_the_option(tmp_path, kwargs, match):
    args = dict(task='cls', out=str(tmp_path / 'out'), num_train=2, num_val=1, size=SIZE)
    args.update(kwargs)
    with pytest.raises(ShapesArgumentError, match=match):
        make_shapes(**args)
    assert not (tmp_path / 'out').exists()


def test_read_difficulty_without_the_option(tmp_path):
    make_shapes('cls', str(tmp_path / 'plain'), 4, 0, SIZE)
    with pytest.raises(FileNotFoundError, match='without difficulty.*--difficulty mixed'):
        read_difficulty(str(tmp_path / 'plain'), 'train')


def test_read_difficulty_checks_the_order(tmp_path):
    root = tmp_path / 'm'
    make_shapes('cls', str(root), 4, 0, SIZE, difficulty='mixed')
    path = root / 'meta' / 'difficulty_train.txt'
    lines = path.read_text().splitlines()
    path.write_text('\n'.join(lines[::-1]) + '\n')
    with pytest.raises(ValueError, match='same order'):
        read_difficulty(str(root), 'train')
    path.write_text('\n'.join(lines[:-1] + [lines[-1].split()[0] + ' medium']) + '\n')
    with pytest.raises(ValueError, match='line 4 .*easy|hard'):
        read_difficulty(str(root), 'train')


def test_generate_command():
    plain = generate_command('cls', 'data/x', 10, 2, 32, seed=3)
    assert plain == ('python tools/data/make_shapes.py --task cls --out data/x --num-train 10 '
                     '--num-val 2 --size 32 --seed 3')
    assert generate_command('cls', 'data/x', 10, 2, 32, 3, difficulty='mixed') == \
        plain + ' --difficulty mixed'


def _cli():
    """tools/data/make_shapes.py as a module (its main(argv) runs in this process: fast)."""
    spec = importlib.util.spec_from_file_location('make_shapes_cli', tool('data/make_shapes.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_difficulty(tmp_path, capsys):
    cli = _cli()
    out = tmp_path / 'cli'
    # the command generate_command gives (its arguments after the script)
    args = generate_command('cls', str(out), 8, 4, SIZE, seed=0, difficulty='mixed').split()[2:]
    assert cli.main(args) == 0
    assert 'difficulty mixed' in capsys.readouterr().out
    assert len(read_difficulty(str(out), 'train')) == 8
    assert len(read_difficulty(str(out), 'val')) == 4
    for args, message in ((['--task', 'det', '--difficulty', 'mixed'], "not to task 'det'"),
                          (['--task', 'cls', '--difficulty', 'easy'], "unknown difficulty 'easy'")):
        assert cli.main([*args, '--out', str(tmp_path / 'bad')]) == 2
        err = capsys.readouterr().err
        assert message in err and '--difficulty' in err
        assert not (tmp_path / 'bad').exists()
