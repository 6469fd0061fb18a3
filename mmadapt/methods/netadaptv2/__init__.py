"""NetAdaptV2 (Yang et al., 2021): ordered dropout with channel-level bypass trains one super-network,
multi-layer coordinate descent searches it to a resource budget, the found network is trained."""
from .cost import SearchCost, build_search_cost
from .hooks import OrderedDropoutHook
from .loop import MCDSearchLoop
from .mcd import MCD, BudgetError
from .space import NAv2Space, with_bypass

__all__ = ['NAv2Space', 'with_bypass', 'MCD', 'BudgetError', 'MCDSearchLoop', 'OrderedDropoutHook', 'SearchCost',
           'build_search_cost']
