"""Format each mmengine config text once per process.

mmengine formats a config's text with yapf (``Config.pretty_text``) every time a Runner dumps the
config, logs it, or saves a checkpoint (the text goes into ``meta``): seven times in a run that
trains, validates and tests. yapf takes seconds on a config with large literals (mmpose's keypoint
metainfo: about 12 s each on this project's machine, 85 of the 97 s of a tiny pose run). The text of
a config depends only on its content, so :func:`cache_pretty_text` memoises it by content: the same
text, formatted once. Applied when ``mmadapt`` is imported; idempotent.
"""
from collections import OrderedDict

_CACHE: 'OrderedDict[tuple, str]' = OrderedDict()
_MAX = 32
_PATCHED = False


def cache_pretty_text() -> None:
    """Memoise ``mmengine.config.Config.pretty_text`` by the config's content (see the module docstring)."""
    global _PATCHED
    if _PATCHED:
        return
    from mmengine.config import Config
    original = Config.pretty_text

    def pretty_text(self) -> str:
        try:
            key = (bool(getattr(self, '_format_python_code', True)), repr(self.to_dict()))
        except Exception:  # noqa: BLE001  (an unusual config: format it as mmengine does)
            return original.fget(self)
        text = _CACHE.get(key)
        if text is None:
            text = original.fget(self)
            _CACHE[key] = text
            if len(_CACHE) > _MAX:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(key)
        return text

    pretty_text.__doc__ = original.__doc__
    Config.pretty_text = property(pretty_text)
    _PATCHED = True
