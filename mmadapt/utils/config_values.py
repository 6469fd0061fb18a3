"""Values read from configs, checked rather than coerced.

``bool('no')`` is True and ``float(-0.2)`` is a valid lambda to Python; a config that says either
means something else. These helpers accept only what the field means and name the field otherwise.
"""
import math
from typing import Optional, Type


def config_bool(value, field: str, error: Type[Exception] = ValueError) -> bool:
    """``value`` if it is a real boolean (``True`` / ``False``), else ``error`` naming ``field``."""
    if isinstance(value, bool):
        return value
    raise error(f'{field} must be True or False, got {value!r} ({type(value).__name__}); strings such as '
                "'no' or 'false' are not booleans")


def config_number(value, field: str, minimum: Optional[float] = None, maximum: Optional[float] = None,
                  why: str = '', error: Type[Exception] = ValueError) -> float:
    """``value`` as a finite float within ``[minimum, maximum]``, else ``error`` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise error(f'{field} must be a finite number, got {value!r}')
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = f"{'>= ' + str(minimum) if minimum is not None else ''}" + \
            (' and ' if minimum is not None and maximum is not None else '') + \
            f"{'<= ' + str(maximum) if maximum is not None else ''}"
        raise error(f'{field} must be {bounds}, got {value!r}' + (f' ({why})' if why else ''))
    return float(value)
