"""A seeded hold-out split of a config's training set, shared by the methods that choose on it
(Network Adjustment's rounds, NetAdaptV2's search): the split is written once to a JSON file and
re-read, and a config is pointed at its two parts through ``mmadapt.IndexedSubset``."""
import copy
import json
import os
import os.path as osp
from typing import Dict, List, Type

from mmengine.config import Config, ConfigDict
from mmengine.dist import barrier, is_main_process

from mmadapt.utils.fileio import atomic_write_text, read_json_object


def dataset_length(cfg: Config, dataset_cfg) -> int:
    from mmengine.registry import DATASETS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    return len(DATASETS.build(copy.deepcopy(dataset_cfg)))


def holdout_split(cfg: Config, holdout: dict, path: str, error: Type[Exception], field: str) -> Dict[str, List[int]]:
    """The seeded hold-out / train split of ``cfg``'s training set, written to (and re-read from) ``path``.

    Args:
        holdout: ``dict(size=..., seed=...)``: a number of samples or a fraction of the set.
        error / field: the exception raised for a bad setting and the config field it names
            (e.g. ``'network_adjustment.holdout'``).
    """
    dataset_cfg = cfg.train_dataloader.dataset
    owner = field.split('.')[0]
    if 'indices' in dataset_cfg and dataset_cfg['indices'] is not None:
        raise error(f'{owner}: train_dataloader.dataset.indices is set; the pipeline splits the training set itself '
                    f'({field})')
    from mmadapt.utils.data_check import check_data
    check_data(cfg, stages=('train', ))  # a missing data set: the message says how to get it
    n = dataset_length(cfg, dataset_cfg)
    size = holdout['size']
    h = int(round(size * n)) if isinstance(size, float) else int(size)
    if not 0 < h < n:
        raise error(f'{field}.size {size} leaves {h} of the {n} training samples for the hold-out; it needs at least '
                    'one, and at least one for training')
    if osp.isfile(path):
        try:
            split = read_json_object(path)
            if split.get('num_samples') == n and split.get('seed') == holdout['seed'] and \
                    len(split.get('holdout', [])) == h:
                return split
        except (OSError, ValueError):
            pass
    from mmadapt.datasets import seeded_split
    train, held = seeded_split(n, h, holdout['seed'])  # the FNA++ search splits its data alike
    split = dict(num_samples=n, seed=holdout['seed'], holdout=held, train=train)
    if is_main_process():
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        atomic_write_text(path, json.dumps(split) + '\n')
    barrier()
    return split


def _val_pipeline(cfg: Config, error: Type[Exception], owner: str):
    val = cfg.get('val_dataloader') or cfg.get('test_dataloader')
    if val is None or 'pipeline' not in val.get('dataset', {}):
        raise error(f'{owner}: the hold-out split is evaluated with the pipeline of val_dataloader.dataset (or '
                    'test_dataloader.dataset); the config has neither')
    return copy.deepcopy(val.dataset.pipeline)


def use_holdout(rcfg: Config, cfg: Config, split_file: str, error: Type[Exception], owner: str) -> Config:
    """``rcfg`` trained on the training part of ``split_file`` and validated on its hold-out part
    (with ``cfg``'s validation pipeline, batch size and evaluator: every hold-out sample scored once)."""
    train_set = copy.deepcopy(cfg.train_dataloader.dataset)
    rcfg.train_dataloader.dataset = ConfigDict(type='mmadapt.IndexedSubset', dataset=train_set,
                                               indices_file=osp.abspath(split_file), key='train')
    val = copy.deepcopy(cfg.train_dataloader)
    held = copy.deepcopy(train_set)
    held.pipeline = _val_pipeline(cfg, error, owner)
    val.dataset = ConfigDict(type='mmadapt.IndexedSubset', dataset=held, indices_file=osp.abspath(split_file),
                             key='holdout')
    # no padding of the shards: every hold-out sample is scored once
    val.sampler = ConfigDict(type='DefaultSampler', shuffle=False, round_up=False)
    src = cfg.get('val_dataloader') or cfg.get('test_dataloader')
    val.batch_size = src.get('batch_size', val.batch_size)
    val.pop('batch_sampler', None)
    rcfg.val_dataloader = val
    if rcfg.get('val_evaluator') is None:
        rcfg.val_evaluator = copy.deepcopy(cfg.get('test_evaluator'))
    if rcfg.get('val_cfg') is None:
        rcfg.val_cfg = ConfigDict(type='ValLoop')
    return rcfg
