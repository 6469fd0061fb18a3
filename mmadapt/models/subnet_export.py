"""Sub-networks of elastic and DS-Net model checkpoints as derived networks of their own
(``tools/export_subnet.py``; ``mmadapt.deploy`` exports DS-Net routes through it).

See :func:`export_subnet` and the tool's docstring for the files written.
"""
import os
import os.path as osp
import shutil

import torch
from mmengine.config import Config, ConfigDict


def export_subnet(config, checkpoint, subnet, out, prefix='backbone.', cfg_options=None, route=None):
    """Export ``subnet`` of the elastic backbone of ``config`` (or ``route`` of its DS-Net backbone)
    from ``checkpoint`` into ``out``."""
    from mmadapt.arch import dump_spec
    from mmadapt.models.backbones import DSBackbone, ElasticBackbone
    from mmadapt.remap import unwrap_checkpoint
    from mmadapt.utils.checkpoint import load_checkpoint_file
    from mmadapt.utils.config_values import check_option_keys
    from mmadapt.utils.fileio import make_temp_dir, move_folder_into_place

    cfg = Config.fromfile(config)
    if cfg_options:
        check_option_keys(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if 'model' not in cfg:
        raise ValueError(f'config {config} has no model')
    bcfg = cfg.model.get('backbone', cfg.model)
    bcfg = dict(bcfg, init_cfg=[])
    if 'backbone' in cfg.model:
        cfg.model.backbone = bcfg
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmadapt'))
    backbone = MODELS.build(bcfg)
    is_ds = isinstance(backbone, DSBackbone)
    if not isinstance(backbone, ElasticBackbone) and not is_ds:
        raise ValueError(f'the backbone of {config} is {type(backbone).__name__}, not an mmadapt elastic backbone')
    if is_ds != (route is not None):
        raise ValueError('a DS-Net backbone (mmadapt.DSBackbone) exports a --route, an elastic backbone a --subnet'
                         if is_ds else f'--route is for DS-Net backbones; the backbone of {config} is elastic: '
                         'give --subnet')
    try:
        ckpt = load_checkpoint_file(checkpoint)
    except Exception as e:  # noqa: BLE001  (name the file whatever went wrong)
        raise ValueError(f'cannot read checkpoint {checkpoint}: {e}') from None
    state = unwrap_checkpoint(ckpt)
    own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)} if prefix else dict(state)
    rest = {k: v for k, v in state.items() if prefix and not k.startswith(prefix)}
    if not own:
        own, rest = dict(state), {}
    expected = backbone.state_dict()
    missing = [k for k in expected if k not in own]
    unexpected = [k for k in own if k not in expected]
    wrong = [f'{k} {tuple(own[k].shape)} (needs {tuple(v.shape)})' for k, v in expected.items()
             if k in own and own[k].shape != v.shape]
    if missing or unexpected or wrong:
        raise ValueError(f"checkpoint {checkpoint} does not fit the {'DS-Net' if is_ds else 'elastic'} backbone of "
                         f'{config} (max spec '
                         f'{(backbone.net if is_ds else backbone).spec.name!r}): {len(missing)} missing (e.g. {missing[:3]}), '
                         f'{len(unexpected)} unexpected (e.g. {unexpected[:3]}), {len(wrong)} of the wrong shape '
                         f'(e.g. {wrong[:2]})')
    backbone.load_state_dict(own, strict=True)
    if is_ds:
        choices = route if route in ('max', 'min') else tuple(int(c) for c in str(route).split(','))
        derived_cfg, sub_state = backbone.export_route(choices)
        sub = backbone.route_spec(choices)
        max_spec = backbone.net.spec
    else:
        sub, sub_state = backbone.export_subnet(None if subnet == 'max' else subnet)
        derived_cfg = backbone.derived_config(sub)
        max_spec = backbone.spec
    out_state = {f'backbone.{k}': v for k, v in sub_state.items()}
    out_state.update(rest)
    head_width = fit_linear_head(cfg, derived_cfg, out_state) if 'backbone' in cfg.model else None
    meta = dict(arch_spec=sub.to_dict(), derived_backbone=derived_cfg, source_checkpoint=osp.abspath(checkpoint),
                source_config=osp.abspath(config), max_spec=max_spec.to_dict(), copied=sorted(rest),
                route=None if route is None else str(route), head_fitted_to=head_width)

    out = osp.abspath(out)
    parent = osp.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = make_temp_dir(parent, prefix=f'.{osp.basename(out)}.export-')
    try:
        dump_spec(sub, osp.join(tmp, 'subnet.yaml'))
        torch.save(dict(state_dict=out_state, meta=meta), osp.join(tmp, 'subnet.pth'))
        if 'backbone' in cfg.model:  # a whole model: its config with the derived backbone (deployable)
            mcfg = cfg.copy()
            mcfg.model.backbone = ConfigDict(derived_cfg)
            mcfg.dump(osp.join(tmp, 'config.py'))
        move_folder_into_place(tmp, out)
        tmp = None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return sub, derived_cfg


def fit_linear_head(cfg: Config, derived_cfg: dict, state: dict):
    """Cut the model's head to the sub-network's output width, in ``cfg`` and ``state``; returns the
    width, or None when the head already reads it (or the model has no ``head.in_channels``).

    The elastic and DS-Net backbones zero-pad a narrower sub-network's output to the max width, which
    the head was built for; the sub-network's own backbone gives its width only. A linear head
    (``head.fc``) on global average pooling multiplies the padded channels by weights that meet
    zeros, so its weights cut to the sub-network's channels compute exactly the same scores. Other
    heads reading a narrower output raise ValueError.
    """
    from mmengine.registry import MODELS
    head = cfg.model.get('head') or {}
    if head.get('in_channels') is None:
        return None
    with torch.no_grad():
        width = int(MODELS.build(dict(derived_cfg, init_cfg=[])).eval()(torch.zeros(1, 3, 64, 64))[-1].shape[1])
    if width == head['in_channels']:
        return None
    neck = str((cfg.model.get('neck') or {}).get('type', '')).rpartition('.')[2]
    weight = state.get('head.fc.weight')
    if not any(k.startswith('head.') for k in state):  # a checkpoint of the backbone only: nothing to cut
        cfg.model.head.in_channels = width
        return width
    if neck != 'GlobalAveragePooling' or weight is None or weight.dim() != 2 or weight.shape[1] != head['in_channels']:
        raise ValueError(f"the sub-network gives {width} channels and the head reads {head['in_channels']} (the "
                         'elastic network pads to the max width); only a linear head (head.fc) on global average '
                         f"pooling is cut to fit, not neck {neck or None!r} / head {head.get('type')!r}")
    state['head.fc.weight'] = weight[:, :width].clone()
    cfg.model.head.in_channels = width
    return width


