"""``mmadapt.Remap``: initialise a spec backbone by remapping a checkpoint, from any config.

.. code-block:: python

    backbone=dict(type='mmadapt.SuperMobileNetV2', spec='fna_mbv2_det',
                  init_cfg=dict(type='mmadapt.Remap', checkpoint='seed.pth', source='seed',
                                source_spec='mobilenet_v2', strategy='fna'))

Spec backbones apply it after every other initialiser (like mmengine's ``Pretrained``), and log the
remapping report.
"""
from typing import Optional, Union

import torch
from mmengine.logging import print_log

from mmadapt.arch import load_spec
from mmadapt.registry import WEIGHT_INITIALIZERS
from mmadapt.utils.checkpoint import check_finite, load_checkpoint_file
from .adapters import load_seed, unwrap_checkpoint
from .network import remap_into, resolve_strategy

SOURCES = ('seed', 'super')
# family -> the seed specs tried in order when a seed's spec is not named (the first that fits wins)
SEED_SPECS = {
    'mbv2': ('mobilenet_v2', ),
    'resnet': ('resnet50', 'resnet18'),
    'mbv1': ('mobilenet_v1', ),
    'mbv3': ('mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0'),
}


@WEIGHT_INITIALIZERS.register_module(name='Remap')
class RemapInit:
    """Remap ``checkpoint`` into the backbone it initialises.

    Args:
        checkpoint: path of the checkpoint.
        source: ``'seed'`` (a seed in any supported format, see :mod:`mmadapt.remap.adapters`) or
            ``'super'`` (a super-net checkpoint of mmadapt, e.g. the architecture adaptation's).
        source_spec: spec of the checkpoint's backbone: the seed spec (default: the first of the
            family's :data:`SEED_SPECS` whose shapes fit: ``mobilenet_v2``; ``resnet50``, ``resnet18``;
            ``mobilenet_v1``; ``mobilenet_v3_large``, ``mobilenet_v3_small``, ``efficientnet_b0``)
            or the super-net spec (required for ``source='super'``).
        strategy: remapping strategy, see :func:`mmadapt.remap.resolve_strategy`.
        format: seed checkpoint format or ``'auto'``. prefix: key prefix of the backbone in the
            checkpoint (default: detected; ``'backbone.'`` for model checkpoints).
    """

    def __init__(self, checkpoint: str, source: str = 'seed', source_spec=None,
                 strategy: Union[str, dict] = 'fna', format: str = 'auto', prefix: Optional[str] = None):
        if source not in SOURCES:
            raise ValueError(f"mmadapt.Remap: source must be one of {SOURCES}, got {source!r}")
        if source == 'super' and source_spec is None:
            raise ValueError("mmadapt.Remap: source='super' needs source_spec, the super-net's spec")
        self.checkpoint, self.source, self.source_spec = checkpoint, source, source_spec
        self.strategy = resolve_strategy(strategy)
        self.format, self.prefix = format, prefix
        self.report = None

    def __call__(self, module) -> None:
        if not self.checkpoint:
            raise ValueError('mmadapt.Remap: checkpoint is not set; set it in the config, e.g. '
                             '--cfg-options model.backbone.init_cfg.checkpoint=PATH')
        if not hasattr(module, 'spec'):
            raise TypeError(f'mmadapt.Remap initialises mmadapt spec backbones, not {type(module).__name__}')
        ckpt = load_checkpoint_file(self.checkpoint, f'mmadapt.Remap {self.source} checkpoint')
        if self.source == 'seed':
            src_spec, state, seed_report = self._seed(ckpt, module.spec.family)
            print_log(f'mmadapt.Remap: {seed_report.summary()}', logger='current')
        else:
            src_spec = load_spec(self.source_spec)
            state = unwrap_checkpoint(ckpt)
            prefix = 'backbone.' if self.prefix is None else self.prefix
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            if not state:
                raise ValueError(f'mmadapt.Remap: no {prefix!r} keys in {self.checkpoint}')
            check_finite(state, f'mmadapt.Remap {self.source} checkpoint {self.checkpoint}')
        self.report = remap_into(module, src_spec, state, self.strategy)
        print_log(f'mmadapt.Remap: {self.source} {src_spec.name} -> {module.spec.name} from {self.checkpoint}\n'
                  f'{self.report.summary()}', logger='current')

    def _seed(self, ckpt, family):
        from .adapters import SeedFormatError
        what = f'seed checkpoint {self.checkpoint}'
        if self.source_spec is not None:
            spec = load_spec(self.source_spec)
            return (spec, *load_seed(ckpt, spec, self.format, self.prefix, what))
        if family not in SEED_SPECS:
            raise ValueError(f'mmadapt.Remap: no default seed spec for family {family!r} (families with one: '
                             f'{sorted(SEED_SPECS)}); name it with source_spec=')
        candidates = list(SEED_SPECS[family])
        error = None
        for name in candidates:
            try:
                return (load_spec(name), *load_seed(ckpt, name, self.format, self.prefix, what))
            except SeedFormatError as e:
                error = e
        raise SeedFormatError(f'{error} (tried seed specs {candidates}; name it with source_spec=)')

    def __repr__(self) -> str:
        return (f'RemapInit(checkpoint={self.checkpoint!r}, source={self.source!r}, '
                f'source_spec={self.source_spec!r}, strategy={self.strategy})')
