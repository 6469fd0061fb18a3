"""Cost model: MAdds (multiply-adds of conv and linear layers), parameters and measured latency of specs
and models. Every method's cost term calls :func:`cost` with ``kind='madds'`` or ``'latency'``."""
from .latency import (LatencyTable, TableMismatchError, Unit, calibrate, cost, keep_heap_memory, measure_network,
                      median_abs_rel_error, predict, spearman, spec_units)
from .madds import (COUNTED, ClassifierCost, LayerCost, ModelCost, SpecCost, block_cost, classifier_cost,
                    conv_bn_params, conv_madds, conv_out_size, count_model, expected_madds, format_count, se_cost,
                    spec_cost)

__all__ = [
    'COUNTED', 'LayerCost', 'ModelCost', 'SpecCost', 'block_cost', 'conv_bn_params', 'conv_madds',
    'conv_out_size', 'count_model', 'expected_madds', 'format_count', 'spec_cost', 'ClassifierCost',
    'classifier_cost', 'se_cost', 'LatencyTable', 'TableMismatchError', 'Unit', 'calibrate', 'cost',
    'keep_heap_memory', 'measure_network', 'median_abs_rel_error', 'predict', 'spearman', 'spec_units'
]
