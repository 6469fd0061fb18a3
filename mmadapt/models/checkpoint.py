"""Remapping of whole model checkpoints: the backbone by spec, everything else as it is.

This sits above :mod:`mmadapt.remap` (which works on state dicts and specs and builds no module):
the target's state dict comes from a built backbone, whose initial values stay wherever nothing is
remapped.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import torch

from mmadapt.arch import load_spec
from mmadapt.remap import RemapReport, load_seed, remap_state_dict, unwrap_checkpoint
from mmadapt.utils.checkpoint import check_finite, load_checkpoint_file
from .backbones import SuperMobileNetV2, SuperResNet, derived_backbone_class

SUPER_BACKBONES = {'mbv2': SuperMobileNetV2, 'resnet': SuperResNet}


def build_spec_backbone(spec, out_indices: Optional[Sequence[int]] = None, **kwargs):
    """The backbone of ``spec``: its family's derived backbone, or super-backbone if it has searchable layers.

    Args:
        spec: a spec (name, file, dict or :class:`~mmadapt.arch.ArchSpec`).
        out_indices: as given to the backbone (default: the whole network).
        **kwargs: other arguments of the backbone (``norm_cfg``, ``act_cfg`` ...).
    Returns:
        The backbone, built without initialisation config (``init_cfg=[]``); a module in training mode.
    Raises:
        ValueError: the spec has searchable layers and its family has no super-backbone (only
            :data:`SUPER_BACKBONES` do).
    """
    spec = load_spec(spec)
    if spec.is_derived:
        cls = derived_backbone_class(spec.family)
    elif spec.family in SUPER_BACKBONES:
        cls = SUPER_BACKBONES[spec.family]
    else:
        raise ValueError(f'spec {spec.name!r} has searchable layers, but no super-backbone builds {spec.family} '
                         f'specs (families with one: {sorted(SUPER_BACKBONES)}); derive a spec first '
                         '(mmadapt.arch.derive_spec)')
    if out_indices is not None:
        kwargs['out_indices'] = tuple(out_indices)
    kwargs.setdefault('init_cfg', [])
    return cls(spec=spec, **kwargs)


@dataclass
class RemappedCheckpoint:
    """Result of :func:`remap_checkpoint`."""
    state_dict: Dict[str, torch.Tensor]  # backbone under 'backbone.', other keys as they were
    meta: dict  # target and source specs, strategy, reports (plain data, saved with the checkpoint)
    report: RemapReport
    seed_report: Optional[object] = None  # SeedReport for seeds

    def save(self, path: str) -> None:
        """Write ``{'state_dict', 'meta'}`` to ``path`` atomically."""
        from mmadapt.utils.fileio import atomic_write
        atomic_write(path, lambda tmp: torch.save(dict(state_dict=self.state_dict, meta=self.meta), tmp))


def remap_checkpoint(checkpoint, src_spec, dst_spec, source: str = 'seed', strategy='fna',
                     out_indices: Optional[Sequence[int]] = None, fmt: str = 'auto',
                     prefix: Optional[str] = None) -> RemappedCheckpoint:
    """Remap a checkpoint (path or loaded object) into a model state dict for ``dst_spec``.

    Args:
        source: ``'seed'`` (a seed in any supported format) or ``'super'`` (a model checkpoint whose
            backbone is a super-net: its backbone is remapped, every other key is kept as it is,
            FNA++ Sec. 3.2.3).
        out_indices: of the target backbone (default: the whole network).
    """
    src_spec, dst_spec = load_spec(src_spec), load_spec(dst_spec)
    if src_spec.family != dst_spec.family:
        raise ValueError(f'cannot remap a {src_spec.family} spec into a {dst_spec.family} spec')
    what = f'{source} checkpoint' + (f' {checkpoint}' if isinstance(checkpoint, str) else '')
    if isinstance(checkpoint, str):
        checkpoint = load_checkpoint_file(checkpoint, f'{source} checkpoint')
    extra, seed_report = {}, None
    if source == 'seed':
        src_state, seed_report = load_seed(checkpoint, src_spec, fmt, prefix, what)
    elif source == 'super':
        full = unwrap_checkpoint(checkpoint)
        prefix = 'backbone.' if prefix is None else prefix
        src_state = {k[len(prefix):]: v for k, v in full.items() if k.startswith(prefix)}
        if not src_state:
            raise ValueError(f'no keys with prefix {prefix!r} in the super-net checkpoint')
        check_finite(src_state, what)
        extra = {k: v for k, v in full.items() if not k.startswith(prefix)}
    else:
        raise ValueError(f"source must be 'seed' or 'super', got {source!r}")
    target = build_spec_backbone(dst_spec, out_indices)
    state, report = remap_state_dict(src_spec, src_state, dst_spec, target.state_dict(), strategy)
    out = {f'backbone.{k}': v for k, v in state.items()}
    out.update(extra)
    meta = dict(arch_spec=dst_spec.to_dict(), source_spec=src_spec.to_dict(), source=source,
                strategy=strategy if isinstance(strategy, str) else str(strategy), remap=report.to_dict(),
                seed=seed_report.to_dict() if seed_report else None, copied=sorted(extra))
    return RemappedCheckpoint(out, meta, report, seed_report)


__all__ = ['SUPER_BACKBONES', 'RemappedCheckpoint', 'build_spec_backbone', 'remap_checkpoint']
