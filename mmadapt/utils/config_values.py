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


def runner_settings() -> frozenset:
    """Top-level config keys that mmengine's Runner reads (they may be set without being in a config)."""
    import inspect

    from mmengine.runner import Runner
    return frozenset(p for p in inspect.signature(Runner.__init__).parameters if p != 'self') | {
        'runner_type', 'model_wrapper_cfg', 'find_unused_parameters', 'compile', 'strategy'}


def check_option_keys(cfg, options: dict, error: Type[Exception] = KeyError) -> None:
    """Refuse ``--cfg-options`` whose top-level key is neither in the config nor a Runner setting.

    mmengine's ``merge_from_dict`` creates any key it is given, so ``optim_wraper.optimizer.lr=0.1``
    would add a field nobody reads while the run trains at the config's learning rate. The message
    names the key and the closest keys of the config.
    """
    import difflib
    known = set(cfg.keys()) | runner_settings()
    for key in options:
        top = str(key).split('.')[0]
        if top in known:
            continue
        close = difflib.get_close_matches(top, sorted(known), n=3)
        hint = f'; did you mean {" or ".join(repr(c) for c in close)}?' if close else ''
        raise error(f'--cfg-options {key}: {top!r} is not a field of this config nor a Runner setting, so the '
                    f'value would be ignored{hint}')


def config_field_number(value, field: str, low=None, high=None, integer: bool = False, low_open: bool = False,
                        error: Type[Exception] = ValueError):
    """``value`` if it is a number (an int with ``integer``) within the bounds (``> low`` with
    ``low_open``, else ``>= low``; ``<= high``), else ``error`` naming ``field`` and the bounds."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and (not integer or isinstance(value, int))
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = (f" {'>' if low_open else '>='} {low}" if low is not None else '') + \
            (f' and <= {high}' if high is not None else '')
        raise error(f"{field} must be {'an integer' if integer else 'a number'}{bounds}, got {value!r}")
    return value


def config_section(settings: dict, key: str, defaults: dict, field: str, error: Type[Exception] = ValueError) -> dict:
    """The sub-dict ``settings[key]`` over its ``defaults``; a value that is not a dict, or an unknown
    field, raises ``error`` naming ``field`` (e.g. ``'dna.search'``) and the allowed fields."""
    given = settings.get(key)
    if given is not None and not isinstance(given, dict):
        raise error(f'{field} must be a dict, got {given!r}')
    given = dict(given or {})
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise error(f'{field}: unknown field(s) {unknown}; allowed: {sorted(defaults)}')
    return dict(defaults, **given)


def config_method_dict(cfg, key: str, defaults: dict, title: str, error: Type[Exception] = ValueError) -> dict:
    """A deep copy of the method dict ``cfg[key]`` (e.g. ``dna``) as a plain dict; a config without it,
    or with fields not in ``defaults``, raises ``error`` naming them (``title``: the method's name)."""
    import copy
    if key not in cfg:
        raise error(f'not a {title} config: it has no `{key}` dict')
    raw = cfg[key]
    d = copy.deepcopy(raw.to_dict() if hasattr(raw, 'to_dict') else dict(raw))
    unknown = sorted(set(d) - set(defaults))
    if unknown:
        raise error(f'{key}: unknown field(s) {unknown}; allowed: {sorted(defaults)}')
    return d


WIDTH_SEED_BACKBONES = ('mmadapt.DerivedResNet', 'mmadapt.DerivedMobileNetV2', 'mmadapt.DerivedMobileNetV1')
"""Backbones of explicit widths that the width-changing methods (DNA, Network Adjustment) start from."""


def check_derived_backbone(cfg, key: str, role: str, error: Type[Exception] = ValueError,
                           allowed=None) -> dict:
    """``cfg.model.backbone`` when it is one of ``allowed`` (default :data:`WIDTH_SEED_BACKBONES`),
    else ``error`` naming ``key``."""
    allowed = WIDTH_SEED_BACKBONES if allowed is None else allowed
    backbone = cfg.get('model', {}).get('backbone', {})
    if backbone.get("type") not in allowed:
        raise error(f'{key}: model.backbone must be one of {list(allowed)} ({role}), got '
                    f"{backbone.get('type')!r}")
    return backbone


def config_choice_list(value, field: str, allowed, error: Type[Exception] = ValueError) -> list:
    """``value`` (one entry, a sequence or None) as a list whose every entry is in ``allowed``, else
    ``error`` naming ``field`` and the unknown entries."""
    out = [value] if isinstance(value, str) else list(value or [])
    bad = [x for x in out if x not in allowed]
    if bad:
        raise error(f'{field}: unknown entries {bad}; allowed: {list(allowed)}')
    return out
