"""DS-Net (Dynamic Slimmable Network): per-input widths with real speed-ups.

- :mod:`mmadapt.models.backbones.dynamic`: the dynamic supernet (``mmadapt.DSBackbone``: gates,
  double-headed gate, static / masked / grouped sliced runs, per-route BN statistics, export);
- :mod:`.loop`: Stage I (IEB) and Stage II (gates with SGS) as one mmengine loop
  (``mmadapt.DSNetLoop``) and its state hook, for classifiers and (on the task's own loss) detectors;
- :mod:`.evaluate`: MAdds per route, the dynamic network against the static routes, the summary.
"""
from .evaluate import (equal_madds_static, evaluate_routes, evaluate_routes_with, gate_madds, route_madds, trunk_madds,
                       route_probs, spread_routes, static_routes_to_report, write_summary)
from .loop import (DSNetConfigError, DSNetLoop, DSNetStateHook, ema_update, gate_step, ieb_step,
                   recalibrate_routes, sgs_targets, soft_cross_entropy, task_gate_step)

__all__ = ['DSNetConfigError', 'DSNetLoop', 'DSNetStateHook', 'ema_update', 'gate_step', 'ieb_step', 'task_gate_step',
           'recalibrate_routes', 'sgs_targets', 'soft_cross_entropy', 'equal_madds_static', 'evaluate_routes',
           'evaluate_routes_with', 'gate_madds', 'route_madds', 'route_probs', 'trunk_madds', 'spread_routes',
           'static_routes_to_report', 'write_summary']
