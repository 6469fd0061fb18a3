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
from typing import List, Sequence, Tuple

import numpy as np
from torch.utils.data import Dataset

from mmadapt.registry import DATASETS


def seeded_split(n: int, k: int, seed: int) -> Tuple[List[int], List[int]]:
    """A deterministic split of ``range(n)`` into (the rest, ``k`` drawn items), both sorted."""
    if not 0 < k < n:
        raise ValueError(f'cannot draw {k} of {n} items and leave both parts non-empty')
    perm = np.random.default_rng(seed).permutation(n)
    return sorted(perm[k:].tolist()), sorted(perm[:k].tolist())


class SplitDataset(Dataset):
    """The items ``indices`` of a built ``dataset``, in that order (keeps ``metainfo``)."""

    def __init__(self, dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    @property
    def metainfo(self):
        return getattr(self.dataset, 'metainfo', {})

    def full_init(self) -> None:
        if hasattr(self.dataset, 'full_init'):
            self.dataset.full_init()

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx):
        return self.dataset[self.indices[idx]]

    def get_data_info(self, idx):
        """As the wrapped dataset's (batch samplers group items by their image shape)."""
        return self.dataset.get_data_info(self.indices[idx])


@DATASETS.register_module()
class IndexedSubset(SplitDataset):
    """A :class:`SplitDataset` built from configs: the samples ``indices_file[key]`` of ``dataset``.

    Args:
        dataset: a dataset config (built in the current default scope) or a built dataset.
        indices_file: a JSON file holding a mapping with a list of integers under ``key``.
        key: which list of the file.
    """

    def __init__(self, dataset, indices_file: str, key: str, lazy_init: bool = False):
        from mmengine.registry import DATASETS as ROOT_DATASETS
        dataset = ROOT_DATASETS.build(copy.deepcopy(dataset)) if isinstance(dataset, dict) else dataset
        self.indices_file, self.key = indices_file, key
        try:
            with open(indices_file, encoding='utf-8') as f:
                split = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f'IndexedSubset: cannot read the indices file {indices_file}: {e}') from None
        if not isinstance(split, dict) or not isinstance(split.get(key), list):
            raise ValueError(f'IndexedSubset: {indices_file} has no list of indices under {key!r}')
        n = len(dataset)
        bad = [i for i in split[key] if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < n]
        if bad:
            raise ValueError(f'IndexedSubset: {indices_file}[{key!r}] holds {len(bad)} indices outside the dataset '
                             f'of {n} samples (e.g. {bad[:3]}); was the split made for another dataset?')
        super().__init__(dataset, split[key])

    def __repr__(self) -> str:
        return f'IndexedSubset({len(self)} of {len(self.dataset)} samples, {self.indices_file}[{self.key!r}])'
