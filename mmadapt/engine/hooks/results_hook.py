"""A hook that writes every evaluation's metrics to one JSON file in the work dir."""
import json
import os
import os.path as osp
import time
from typing import Dict, Optional

from mmengine.dist import master_only
from mmengine.hooks import Hook

from mmadapt.registry import HOOKS
from mmadapt.utils.fileio import atomic_write_text, read_json_object


def _plain(value):
    """Metrics as JSON numbers/strings (they may arrive as numpy or torch scalars)."""
    if hasattr(value, 'item') and getattr(value, 'ndim', 0) == 0:
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


@HOOKS.register_module()
class ResultsHook(Hook):
    """Write the metrics of every validation and test run to ``{work_dir}/{filename}``.

    The file holds ``{"val": [{"epoch", "iter", "metrics"}...], "test": {"metrics", "checkpoint"},
    "config": ...}`` and is rewritten atomically after each evaluation, so it is complete at any
    time. ``tools/train.py`` and ``tools/test.py`` add this hook to every config.

    Args:
        filename (str): file name inside the work dir. Defaults to ``results.json``.
    """

    priority = 'LOWEST'

    def __init__(self, filename: str = 'results.json'):
        if not filename or osp.basename(filename) != filename:
            raise ValueError(f'filename must be a plain file name, got {filename!r}')
        self.filename = filename

    def _path(self, runner) -> str:
        return osp.join(runner.work_dir, self.filename)

    def _load(self, runner) -> Dict:
        path = self._path(runner)
        if not osp.isfile(path):
            return dict(val=[], test=None)
        try:
            results = read_json_object(path)
            if not isinstance(results.get('val', []), list):
                raise ValueError('not a results file of mmadapt ("val" is not a list)')
            results.setdefault('val', [])
            results.setdefault('test', None)
            return results
        except ValueError as e:
            # an evaluation must not be lost to an unreadable file: keep that file, start a new one
            kept = f'{path}.corrupt-{time.strftime("%Y%m%d_%H%M%S")}'
            os.replace(path, kept)
            runner.logger.warning(f'{path} is unreadable ({e}); kept it as {kept} and started a new one')
            return dict(val=[], test=None)

    def _save(self, runner, results: Dict) -> None:
        results['config'] = getattr(runner.cfg, 'filename', None)
        results['updated'] = time.strftime('%Y-%m-%d %H:%M:%S')
        path = self._path(runner)
        atomic_write_text(path, json.dumps(results, indent=2))
        runner.logger.info(f'metrics written to {path}')

    @staticmethod
    def _tested_weights(runner):
        """What the test evaluated: after training in the same process (the FNA++ pipeline trains, then
        tests), the trained weights, i.e. the last checkpoint; else the checkpoint that was loaded."""
        hub = getattr(runner, 'message_hub', None)
        last = hub.get_info('last_ckpt') if hub is not None and runner.iter > 0 else None
        return str(last) if last is not None else runner.cfg.get('load_from', None)

    @master_only
    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        # an empty dict is written too: mmdet returns one when no box passes the score threshold
        metrics = metrics or {}
        results = self._load(runner)
        results['val'].append(dict(epoch=runner.epoch, iter=runner.iter, metrics=_plain(metrics)))
        self._save(runner, results)

    @master_only
    def after_test_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        metrics = metrics or {}
        results = self._load(runner)
        results['test'] = dict(metrics=_plain(metrics), checkpoint=self._tested_weights(runner))
        self._save(runner, results)
