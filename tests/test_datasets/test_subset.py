"""IndexedSubset: the samples a split file lists, and clear errors for a bad file."""
import json

import pytest

from mmadapt.datasets import IndexedSubset


class Numbers:
    metainfo = dict(classes=('a', ))

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return i * 10

    def get_data_info(self, i):
        return dict(i=i)


def test_subset_follows_the_file(tmp_path):
    path = tmp_path / 'split.json'
    path.write_text(json.dumps(dict(train=[7, 1, 3], holdout=[0])))
    sub = IndexedSubset(Numbers(), str(path), 'train')
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [70, 10, 30]
    assert sub.get_data_info(0) == dict(i=7) and sub.metainfo == dict(classes=('a', ))
    with pytest.raises(ValueError, match=r"no list of indices under 'val'"):
        IndexedSubset(Numbers(), str(path), 'val')
    path.write_text(json.dumps(dict(train=[3, 12])))
    with pytest.raises(ValueError, match=r'1 indices outside the dataset of 10 samples'):
        IndexedSubset(Numbers(), str(path), 'train')
    with pytest.raises(ValueError, match='cannot read the indices file'):
        IndexedSubset(Numbers(), str(tmp_path / 'missing.json'), 'train')
