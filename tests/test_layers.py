"""The house plan's layers: arrows point down only (DESIGN.md, "Layers").

    methods -> engine -> models -> remap -> cost -> arch

A package may import the ones below it, never one above it: not at module level, not inside a
function (a lazy import is still an arrow up). Read from the source with ``ast``, so that the check
needs no import and sees every import statement wherever it is.
"""
import ast
import os.path as osp
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'mmadapt'
# bottom to top; each checked package may import only the ones before it
LAYERS = ('arch', 'cost', 'remap', 'models', 'engine', 'methods')
CHECKED = ('arch', 'cost', 'remap')


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def _resolve(module: Optional[str], level: int, current: str, is_package: bool) -> str:
    """Absolute name of ``from {'.' * level}{module} import ...`` written in module ``current``."""
    if level == 0:
        return module or ''
    base = current.split('.')
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[:-(level - 1)]
    return '.'.join(base + ([module] if module else []))


def imported_names(source: str, current: str, is_package: bool = False) -> Iterator[Tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, at any depth.

    ``from a import b`` yields ``a`` and ``a.b`` (``b`` may be a submodule); calls of
    ``importlib.import_module`` / ``__import__`` with a constant name count as imports too.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, current, is_package)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f'{base}.{alias.name}'
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)
            if name in ('import_module', '__import__'):
                yield node.lineno, node.args[0].value


def upward_imports(package: str, sources=None) -> List[str]:
    """``'path:line imports name'`` for every import of ``mmadapt.{package}`` that points up a layer.

    Args:
        package: one of :data:`LAYERS`.
        sources: ``[(path, text)]`` to check instead of the files under ``mmadapt/{package}``.
    """
    above = LAYERS[LAYERS.index(package) + 1:]
    if sources is None:
        sources = [(p, p.read_text(encoding='utf-8')) for p in sorted((PACKAGE / package).rglob('*.py'))]
    found = set()
    for path, text in sources:
        path = Path(path)
        for line, name in imported_names(text, _module_name(path), path.name == '__init__.py'):
            parts = name.split('.')
            if len(parts) >= 2 and parts[0] == 'mmadapt' and parts[1] in above:
                found.add((osp.relpath(path, ROOT), line, name))
    # one entry per import: 'from mmadapt.models import A, B' is mmadapt.models, not also .A and .B
    found = {(p, n, name) for p, n, name in found
             if not any(name.startswith(other + '.') for q, m, other in found if (q, m) == (p, n))}
    return [f'{path}:{line} imports {name}' for path, line, name in sorted(found)]


@pytest.mark.parametrize('package', CHECKED)
def test_no_import_points_up(package):
    found = upward_imports(package)
    above = ', '.join(f'mmadapt.{p}' for p in LAYERS[LAYERS.index(package) + 1:])
    assert not found, (f'mmadapt.{package} must not import {above} (arrows point down only); found:\n'
                       + '\n'.join(found))


def test_the_check_sees_every_kind_of_import():
    """The checker itself: lazy, relative, ``from mmadapt import models`` and import_module."""
    path = PACKAGE / 'remap' / 'example.py'
    source = '\n'.join([
        'import torch',
        'from mmadapt.arch import load_spec',  # down: allowed
        'from .tensor import remap_conv',  # same package
        'def build(spec):',
        '    from mmadapt.models.backbones import derived_backbone_class',  # lazy
        '    return derived_backbone_class',
        'from ..engine import fna',  # relative, up
        'from mmadapt import methods',  # a subpackage named in the import list
        'import importlib',
        "importlib.import_module('mmadapt.models')",
        'from .. import cost',  # down: allowed
    ])
    found = upward_imports('remap', [(path, source)])
    assert found == ['mmadapt/remap/example.py:5 imports mmadapt.models.backbones',
                     'mmadapt/remap/example.py:7 imports mmadapt.engine',
                     'mmadapt/remap/example.py:8 imports mmadapt.methods',
                     'mmadapt/remap/example.py:10 imports mmadapt.models']
    assert upward_imports('arch', [(PACKAGE / 'arch' / 'x.py', 'from ..cost import spec_cost')]) == \
        ['mmadapt/arch/x.py:1 imports mmadapt.cost']
    for name in ('__init__.py', 'latency.py'):  # relative imports resolve from the package
        assert upward_imports('cost', [(PACKAGE / 'cost' / name, 'from ..remap import x')]) == \
            [f'mmadapt/cost/{name}:1 imports mmadapt.remap']
