"""Cost model: MAdds (multiply-adds of conv and linear layers) and parameters of specs and models."""
from .madds import (COUNTED, LayerCost, ModelCost, SpecCost, block_cost, conv_bn_params, conv_madds,
                    conv_out_size, count_model, expected_madds, format_count, spec_cost)

__all__ = [
    'COUNTED', 'LayerCost', 'ModelCost', 'SpecCost', 'block_cost', 'conv_bn_params', 'conv_madds',
    'conv_out_size', 'count_model', 'expected_madds', 'format_count', 'spec_cost'
]
