"""The resource a NetAdaptV2 search reduces: MAdds, predicted latency from a latency table, or any
registered metric (``mmadapt.registry.SEARCH_COSTS``)::

    cost=dict(type='madds', input_size=(224, 224))
    cost=dict(type='latency', input_size=(224, 224), table='work_dirs/latency/cpu_t1.json',
              device='cpu', threads=1, warmup=10, repeats=30)   # milliseconds of that device

A latency table is lazy: a unit the search meets for the first time is measured then (on rank 0
under DDP, whose costs the other ranks receive), and the table is saved with the search's results,
so the next search on the same device starts from it. A table of another device, torch version or
thread count is not used (warned, and a new one started).
"""
import os.path as osp
from typing import Optional, Sequence

from mmadapt.registry import SEARCH_COSTS

COST_TYPES = ('madds', 'latency')


class SearchCost:
    """``cost(spec) -> float`` with its unit, and the latency table behind it (or None)."""

    def __init__(self, fn, unit: str, table=None, table_path: Optional[str] = None):
        self.fn, self.unit, self.table, self.table_path = fn, unit, table, table_path

    def __call__(self, spec) -> float:
        return float(self.fn(spec))

    def save_table(self, path: Optional[str] = None) -> Optional[str]:
        path = path or self.table_path
        if self.table is None or not path:
            return None
        self.table.save(path)
        return path


@SEARCH_COSTS.register_module(name='madds')
def madds_cost(input_size, out_indices=None, num_classes: Optional[int] = None) -> SearchCost:
    """MAdds of the backbone, plus its family's ImageNet classifier for ``num_classes`` classes
    (MobileNetV3: pool, 1x1 conv, FC; the paper's MACs include it)."""
    from mmadapt.cost import classifier_cost, spec_cost
    hw = tuple(input_size)
    if num_classes:
        return SearchCost(lambda spec: spec_cost(spec, hw, out_indices).madds +
                          classifier_cost(spec, num_classes, hw).madds, 'MAdds')
    return SearchCost(lambda spec: spec_cost(spec, hw, out_indices).madds, 'MAdds')


@SEARCH_COSTS.register_module(name='latency')
def latency_cost(input_size, out_indices=None, table: Optional[str] = None, device: str = 'cpu', threads: int = 1,
                 warmup: int = 10, repeats: int = 30) -> SearchCost:
    from mmadapt.cost.latency import LatencyTable
    hw = tuple(input_size)
    if table and osp.isfile(table):
        t = LatencyTable.load(table, device=device, threads=threads, on_mismatch='drop', lazy=True)
    else:
        t = LatencyTable(device, threads=threads, batch=1, warmup=warmup, repeats=repeats, lazy=True)
    return SearchCost(lambda spec: t.predict(spec, hw, out_indices), 'ms', t, table)


def build_search_cost(cfg: dict, out_indices: Optional[Sequence[int]] = None) -> SearchCost:
    """The cost of ``cfg`` (``type`` and the builder's arguments, ``input_size`` among them)."""
    cfg = dict(cfg)
    kind = cfg.pop('type', 'madds')
    builder = SEARCH_COSTS.get(kind)
    if builder is None:
        raise KeyError(f'unknown search cost {kind!r}; built in: {", ".join(COST_TYPES)}; others are registered in '
                       'mmadapt.registry.SEARCH_COSTS')
    if 'input_size' not in cfg:
        raise KeyError(f"search cost {kind!r}: missing field 'input_size' (H, W)")
    out = builder(out_indices=out_indices, **cfg)
    if not isinstance(out, SearchCost):
        out = SearchCost(out, kind)
    return out
