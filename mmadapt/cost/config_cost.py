"""MAdds and params of the model a config builds (detector, segmentor, pose model, classifier)."""
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config

from .madds import ModelCost, count_model


@dataclass
class ConfigCost:
    """What :func:`count_config` measured."""
    model: ModelCost
    shape: tuple
    backbone_madds: int
    backbone_params: int
    # super-backbones only: Eq. 9 expected MAdds, and the cheapest / dearest path of the backbone
    expected_madds: Optional[float] = None
    min_madds: Optional[int] = None
    max_madds: Optional[int] = None
    derived: Optional[str] = None


def build_model_from_config(cfg: Union[str, Config]):
    """Build ``cfg.model`` with the config's default scope, as the Runner would."""
    from mmengine.registry import MODELS, init_default_scope
    if isinstance(cfg, str):
        cfg = Config.fromfile(cfg)
    init_default_scope(cfg.get('default_scope', 'mmadapt'))
    model_cfg = cfg.model.copy()
    if 'data_preprocessor' in cfg and 'data_preprocessor' not in model_cfg:
        model_cfg['data_preprocessor'] = cfg.data_preprocessor
    return MODELS.build(model_cfg)


def count_config(cfg: Union[str, Config], shape: Sequence[int] = (224, 224), model=None,
                 transposed: str = 'input') -> ConfigCost:
    """Count MAdds (conv + linear, per image) and params of a config's model at ``shape`` (H, W).

    The model runs once on a zero image of that size through ``model(x, mode='tensor')`` (the
    network without pre-/post-processing). A super-backbone is counted on its current single path
    (the argmax path of a freshly built one); the expected MAdds of Eq. 9 and the cheapest and
    dearest paths of the backbone are reported beside it.
    """
    model = build_model_from_config(cfg) if model is None else model
    h, w = int(shape[0]), int(shape[1])
    x = torch.zeros(1, 3, h, w)
    mode_arg = _accepts_mode(model)
    # data_samples passed explicitly: mmpose's estimators have no default for it
    forward = (lambda t: model(t, None, mode='tensor')) if mode_arg else model
    result = count_model(model, x, forward=forward, transposed=transposed)
    prefix = 'backbone.'
    bb_madds = sum(m for n, (m, _) in result.modules.items() if n.startswith(prefix))
    bb_params = sum(p for n, (_, p) in result.modules.items() if n.startswith(prefix))
    out = ConfigCost(result, (h, w), bb_madds, bb_params)
    backbone = getattr(model, 'backbone', None)
    if callable(getattr(backbone, 'export_subnet', None)) and callable(getattr(backbone, 'subnet', None)):
        # an elastic backbone runs its convs functionally (no module hook sees them): count its
        # active sub-network from the spec, which the tests check against the hook counter
        from .madds import spec_cost
        sub = spec_cost(backbone.subnet(), (h, w), out_indices=backbone.out_indices)
        modules = result.modules.copy()
        modules['backbone'] = (sub.madds, 0)
        out.model = ModelCost(result.madds + sub.madds, result.params, modules)
        out.backbone_madds = sub.madds
        out.derived = backbone.subnet().describe()
    if _is_super_backbone(backbone):
        cost = backbone.cost((h, w))
        out.expected_madds = backbone.expected_madds((h, w)).item()
        table = cost.table()
        out.min_madds = cost.fixed_madds + sum(min(lc.madds) for lc in table)
        out.max_madds = cost.fixed_madds + sum(max(lc.madds) for lc in table)
        out.derived = backbone.path_spec().describe()
    return out


def network_latency(cfg: Union[str, Config, None], shape: Sequence[int] = (224, 224), model=None, batch: int = 1,
                    threads: Optional[int] = 1, warmup: int = 5, repeats: int = 20, device: str = 'cpu') -> dict:
    """PyTorch latency of a config's network at ``shape`` (H, W): the module ``count_config`` counts,
    ``model(x, mode='tensor')`` on a random batch (no pre- or post-processing), in eval mode.

    Returns :func:`mmadapt.cost.latency.spread` of the timed calls (ms per batch) with ``batch``,
    ``threads``, ``input_hw`` and ``device_name``.
    """
    from .latency import alternate_times, device_name, num_threads, spread
    model = build_model_from_config(cfg) if model is None else model
    h, w = int(shape[0]), int(shape[1])
    was_training = model.training
    model = model.to(device).eval()
    x = torch.randn(batch, 3, h, w, device=device)
    forward = (lambda: model(x, None, mode='tensor')) if _accepts_mode(model) else (lambda: model(x))
    try:
        with torch.no_grad(), num_threads(threads):
            times = alternate_times(dict(net=forward), repeats, device, warmup)['net']
    finally:
        model.train(was_training)
    return dict(spread([1e3 * t for t in times]), batch=batch, threads=threads or torch.get_num_threads(),
                input_hw=[h, w], device_name=device_name(device))


def _is_super_backbone(backbone) -> bool:
    """Whether ``backbone`` is a super-backbone (``mmadapt.models.backbones.SuperBackboneMixin``), told by
    its search interface so that the cost layer imports no model code."""
    return all(callable(getattr(backbone, name, None)) for name in ('cost', 'expected_madds', 'path_spec'))


def _accepts_mode(model) -> bool:
    import inspect
    try:
        return 'mode' in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False
