"""Training a derived network with a config's own recipe, and its first weights: shared by the
methods whose pipelines end with the found network (DNA, NetAdaptV2)."""
import copy
from typing import Dict, List, Optional

import torch
from mmengine.config import Config

from mmadapt.utils.fileio import atomic_write

from .pipeline import fit_input_widths

# the method dicts a config may carry; a derived network's training config has none of them
METHOD_KEYS = ('dna', 'netadaptv2', 'network_adjustment')


def train_config(cfg: Config, spec, load_from: Optional[str] = None) -> Config:
    """The config that trains the derived network of ``spec`` with the config's own recipe (the
    method dicts of the config removed)."""
    tcfg = copy.deepcopy(cfg)
    for key in METHOD_KEYS:
        tcfg.pop(key, None)
    tcfg.model.backbone.spec = spec.to_dict()
    tcfg.model.backbone.pop('init_cfg', None)  # from scratch, or from load_from
    fit_input_widths(tcfg.model, spec)
    tcfg.load_from = load_from
    return tcfg


def fit_tensor(src: torch.Tensor, shape) -> torch.Tensor:
    """``src`` cut or zero-padded to ``shape`` (leading slices)."""
    out = torch.zeros(shape, dtype=src.dtype)
    sl = tuple(slice(0, min(a, b)) for a, b in zip(src.shape, shape))
    out[sl] = src[sl]
    return out


def write_init(cfg: Config, backbone_state: Dict[str, torch.Tensor], source: Dict[str, torch.Tensor], out_path: str,
                meta: dict) -> List[str]:
    """A checkpoint for the model of ``cfg``: ``backbone_state`` for its backbone; its other layers
    (neck, head) from ``source`` cut or zero-padded to their shapes (leading channels: a head that
    reads fewer channels reads the leading ones, one that reads more reads zeros from the new ones).
    Returns the keys taken from ``source``."""
    from mmadapt.cost.config_cost import build_model_from_config
    template = build_model_from_config(cfg).state_dict()
    out = {f'backbone.{k}': v for k, v in backbone_state.items()}
    copied = []
    for key, value in template.items():
        if key.startswith('backbone.'):
            continue
        src = source.get(key)
        if torch.is_tensor(src) and src.dim() == value.dim():
            out[key] = fit_tensor(src, value.shape)
            copied.append(key)
    atomic_write(out_path, lambda tmp: torch.save(dict(state_dict=out, meta=dict(meta, copied=copied)), tmp))
    return copied


def checkpoint_state(path: str, what: str) -> Dict[str, torch.Tensor]:
    from mmadapt.models.checkpoint import unwrap_checkpoint
    from mmadapt.utils.checkpoint import load_checkpoint_file
    return unwrap_checkpoint(load_checkpoint_file(path, what))


def export_supernet(search_cfg: Config, checkpoint: str, spec, train_cfg: Config, out_path: str) -> None:
    """The target's weights taken from the search network (backbone: the sub-network's slices; the
    layers after it: the leading input channels)."""
    from mmadapt.cost.config_cost import build_model_from_config
    model = build_model_from_config(search_cfg)
    state = checkpoint_state(checkpoint, 'search checkpoint')
    model.load_state_dict(state, strict=True)
    sub, bstate = model.backbone.export_subnet(spec)
    write_init(train_cfg, bstate, state, out_path, dict(exported=sub.to_dict()))


def with_epochs(cfg: Config, epochs: Optional[int]) -> Config:
    """``cfg`` trained for ``epochs`` (None: as it is); epoch-based schedulers that ended with the old
    schedule end with the new one."""
    if epochs is None:
        return cfg
    old = cfg.train_cfg.get('max_epochs')
    cfg.train_cfg.max_epochs = epochs
    if cfg.train_cfg.get('val_interval') == old:
        cfg.train_cfg.val_interval = epochs
    for sched in cfg.get('param_scheduler') or []:
        if sched.get('by_epoch', True):
            for key in ('end', 'T_max'):
                if sched.get(key) == old:
                    sched[key] = epochs
    return cfg


# the elastic backbone of each family (the weight-sharing network of a method's search)
ELASTIC = {'mbv2': 'mmadapt.ElasticMobileNetV2', 'resnet': 'mmadapt.ElasticResNet', 'mbv1': 'mmadapt.ElasticMobileNetV1',
           'mbv3': 'mmadapt.ElasticMobileNetV3'}


def elastic_backbone_config(derived: dict, spec) -> dict:
    """The elastic backbone of ``spec`` (its max network) in place of the derived backbone ``derived``
    of a config, keeping its out_indices, norm and activation settings; outputs zero-padded to the
    max widths, so the neck and head stay as they are."""
    backbone = dict(type=ELASTIC[spec.family], spec=spec.to_dict(), pad_outputs=True)
    for key in ('out_indices', 'norm_cfg', 'act_cfg', 'frozen_stages', 'norm_eval'):
        if key in derived:
            backbone[key] = derived[key]
    return backbone
