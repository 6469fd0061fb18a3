"""The config text cache: the same text as mmengine's formatting, computed once per content."""
from mmengine.config import Config

import mmadapt  # noqa: F401  (applies the cache)
from mmadapt.utils import config_text


def test_pretty_text_is_formatted_once_per_content_and_unchanged(monkeypatch):
    cfg = Config(dict(model=dict(type='X', depth=18, widths=list(range(40))), name='a'))
    calls = []
    import yapf.yapflib.yapf_api as api
    from mmengine.config import config as mm_config
    real = mm_config.FormatCode

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mm_config, 'FormatCode', counting)
    config_text._CACHE.clear()
    first = cfg.pretty_text
    assert cfg.pretty_text == first and cfg.copy().pretty_text == first
    assert len(calls) == 1
    assert first == real(first, style_config=dict(based_on_style='pep8', blank_line_before_nested_class_or_def=True,
                                                  split_before_expression_after_opening_paren=True))[0]
    cfg.model.depth = 34  # another content: formatted again
    assert 'depth=34' in cfg.pretty_text and len(calls) == 2
    assert api.FormatCode is not None
