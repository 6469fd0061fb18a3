"""Checks that a config's data is on disk, with a message that says how to get it."""
import os.path as osp
from typing import Iterator, List, Tuple

from mmengine.config import Config

from mmadapt.datasets.shapes import generate_command

_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_EVALUATORS = ('val_evaluator', 'test_evaluator')


class DataNotFoundError(FileNotFoundError):
    """A file or folder that a config reads does not exist."""


class DataFileError(ValueError):
    """An annotation file that exists but cannot be read; the message names it and what is wrong."""


# JSON annotation files up to this size are parsed whole before a run; larger ones (COCO's train
# annotations are ~450 MB) get the cheap check only: not empty, and not cut off at the end
_PARSE_LIMIT = 64 * 2 ** 20


def check_annotation_file(path: str, where: str = 'ann_file') -> None:
    """Raise :class:`DataFileError` for an empty, truncated or unparseable JSON annotation file
    (other files are left to the frameworks).

    The frameworks' readers fail on such files deep inside dataset construction with a bare JSON
    error that names no file."""
    import json
    if not path.endswith('.json'):
        return  # list files (mmpretrain's meta/*.txt) and others: the frameworks' own checks apply
    size = osp.getsize(path)
    if size == 0:
        raise DataFileError(f'{where}: annotation file {path} is empty')
    if size <= _PARSE_LIMIT:
        try:
            with open(path, encoding='utf-8') as f:
                json.load(f)
        except (ValueError, UnicodeDecodeError) as e:
            raise DataFileError(f'{where}: annotation file {path} is not valid JSON ({e}); truncated or '
                                'corrupt? Regenerate or re-download it') from None
        return
    with open(path, 'rb') as f:
        head = f.read(64).lstrip()[:1]
        f.seek(max(0, size - 64))
        tail = f.read().rstrip()[-1:]
    if (head, tail) not in ((b'{', b'}'), (b'[', b']')):
        raise DataFileError(f'{where}: annotation file {path} is not a complete JSON document (it starts with '
                            f'{head!r} and ends with {tail!r}); truncated or corrupt?')


def iter_datasets(dataset) -> Iterator[dict]:
    """Leaf dataset configs, looking through wrappers (RepeatDataset, ConcatDataset, ...)."""
    if not isinstance(dataset, dict):
        return
    if isinstance(dataset.get('dataset'), dict):
        yield from iter_datasets(dataset['dataset'])
    elif isinstance(dataset.get('datasets'), (list, tuple)):
        for d in dataset['datasets']:
            yield from iter_datasets(d)
    else:
        yield dataset


def _join(root, path):
    if not path or '://' in str(path):
        return None
    if root and not osp.isabs(path):
        return osp.join(root, path)
    return path


def data_root_options(root: str) -> dict:
    """``--cfg-options`` that move a config's data to ``root``.

    Configs resolve ``data_root`` into their dataloaders when they are parsed, so overriding the
    variable alone changes nothing: the dataloaders' ``data_root`` fields are set too.
    """
    root = str(root).rstrip('/') + '/'
    return {'data_root': root, **{f'{name}.dataset.data_root': root for name in _DATALOADERS}}


def required_paths(cfg: Config) -> List[Tuple[str, str]]:
    """``(where, path)`` of every local file/folder that the config's data pipeline reads."""
    paths = []
    for name in _DATALOADERS:
        loader = cfg.get(name)
        if not isinstance(loader, dict):
            continue
        for ds in iter_datasets(loader.get('dataset')):
            root = ds.get('data_root')
            if root and '://' not in str(root):
                paths.append((name, root))
            ann = _join(root, ds.get('ann_file'))
            if ann:
                paths.append((name, ann))
            prefix = ds.get('data_prefix')
            values = prefix.values() if isinstance(prefix, dict) else [prefix]
            for value in values:
                p = _join(root, value) if isinstance(value, str) else None
                if p:
                    paths.append((name, p))
    for name in _EVALUATORS:
        evaluators = cfg.get(name)
        for ev in evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]:
            if isinstance(ev, dict) and isinstance(ev.get('ann_file'), str):
                if '://' not in ev['ann_file']:
                    paths.append((name, ev['ann_file']))
    return paths


def check_data(cfg: Config, stages=('train', 'val', 'test')) -> None:
    """Raise :class:`DataNotFoundError` if data that ``cfg`` needs for ``stages`` is missing, and
    :class:`DataFileError` if an annotation file is empty or not valid JSON.

    For configs on the built-in shapes data (those with a ``shapes`` field giving the generator
    arguments) the message is the command that generates it.
    """
    needed = [(where, p) for where, p in required_paths(cfg) if where.split('_')[0] in stages]
    missing = [(where, p) for where, p in needed if not osp.exists(p)]
    if not missing:
        for where, p in dict.fromkeys(needed):
            if osp.isfile(p):
                check_annotation_file(p, where)
        return
    # a missing data root explains everything below it: report the root only
    roots = {p.rstrip('/') for _, p in missing}
    missing = [(w, p) for w, p in missing
               if not any(p.rstrip('/') != r and p.startswith(r + '/') for r in roots)]
    lines = [f'  {where}: {p}' for where, p in missing]
    msg = 'data not found:\n' + '\n'.join(dict.fromkeys(lines))
    shapes = cfg.get('shapes')
    if isinstance(shapes, dict) and cfg.get('data_root'):
        try:
            cmd = generate_command(shapes['task'], cfg['data_root'].rstrip('/'),
                                   shapes['num_train'], shapes['num_val'], shapes['size'],
                                   shapes.get('seed', 0), difficulty=shapes.get('difficulty'))
        except KeyError as e:
            raise KeyError(f'config field shapes lacks {e}: it needs task, num_train, num_val, '
                           'size') from None
        msg += ('\nThis config trains on the built-in shapes data. Generate it with:\n  ' + cmd)
    else:
        msg += ('\nPoint data_root (and ann_file / data_prefix) at your copy of the data set, '
                'e.g. with --cfg-options train_dataloader.dataset.data_root=PATH')
    raise DataNotFoundError(msg)
