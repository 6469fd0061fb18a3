"""A subset of a dataset whose indices come from a JSON file: the splits a method makes of a training set.

Network Adjustment holds part of the training set out (the FUR and selection split) and trains on
the rest. Writing tens of thousands of indices into the config (``dataset.indices``) would make
every config dump and checkpoint carry them, and mmengine formats the dumped config with yapf, which
takes minutes on such a list; so the indices stay in one file of the work dir and the config names it::

    dataset=dict(type='mmadapt.IndexedSubset', dataset=<the training set's config>,
                 indices_file='work_dirs/x/holdout.json', key='train')
"""
import copy
import json
from typing import Sequence

from mmadapt.registry import DATASETS


@DATASETS.register_module()
class IndexedSubset:
    """The samples ``indices_file[key]`` of ``dataset``, in that order.

    Args:
        dataset: a dataset config (built in the current default scope) or a built dataset.
        indices_file: a JSON file holding a mapping with a list of integers under ``key``.
        key: which list of the file.
    """

    def __init__(self, dataset, indices_file: str, key: str, lazy_init: bool = False):
        from mmengine.registry import DATASETS as ROOT_DATASETS
        self.dataset = ROOT_DATASETS.build(copy.deepcopy(dataset)) if isinstance(dataset, dict) else dataset
        self.indices_file, self.key = indices_file, key
        try:
            with open(indices_file, encoding='utf-8') as f:
                split = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f'IndexedSubset: cannot read the indices file {indices_file}: {e}') from None
        if not isinstance(split, dict) or not isinstance(split.get(key), list):
            raise ValueError(f'IndexedSubset: {indices_file} has no list of indices under {key!r}')
        indices: Sequence[int] = split[key]
        n = len(self.dataset)
        bad = [i for i in indices if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n]
        if bad:
            raise ValueError(f'IndexedSubset: {indices_file}[{key!r}] holds {len(bad)} indices outside the dataset '
                             f'of {n} samples (e.g. {bad[:3]}); was the split made for another dataset?')
        self.indices = list(indices)

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self.indices[idx])

    def __getitem__(self, idx: int):
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f'IndexedSubset({len(self)} of {len(self.dataset)} samples, {self.indices_file}[{self.key!r}])'
