"""Shared set-up of ``tools/train.py`` and ``tools/test.py``: config -> checked config -> Runner."""
import os
import os.path as osp
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmadapt.registry import MODEL_WRAPPERS
from mmadapt.utils.checkpoint import check_checkpoint_file, latest_checkpoint
from mmadapt.utils.config_values import check_option_keys
from mmadapt.utils.data_check import check_data

_STAGES = dict(train=('train', 'val'), test=('test', ))


@MODEL_WRAPPERS.register_module()
class DeviceAwareDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also runs on CPU (gloo).

    mmengine's Runner always passes ``device_ids=[LOCAL_RANK]``, which torch rejects for a module
    on the CPU. This wrapper drops ``device_ids`` when the module's parameters are on the CPU.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        params = list(module.parameters())
        if params and params[0].device.type == 'cpu':
            device_ids = None
        kwargs.setdefault('broadcast_buffers', False)
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def unwrap(model):
    """The model inside a DDP (or other mmengine) wrapper, or the model itself."""
    from mmengine.model import is_model_wrapper
    return model.module if is_model_wrapper(model) else model


def search_loop_backbone(runner, dataloader, backbone_type: type, loop: str, wanted: str):
    """The backbone a search loop works on, checked: ``runner``'s model's backbone must be a
    ``backbone_type`` (``wanted`` names it in the error) and the training dataloader a config dict,
    which the loop splits itself. ``loop`` names the loop in the errors."""
    backbone = getattr(unwrap(runner.model), 'backbone', None)
    if not isinstance(backbone, backbone_type):
        raise TypeError(f'{loop} needs {wanted} as model.backbone; got {type(backbone).__name__}')
    if not isinstance(dataloader, dict):
        raise TypeError(f'{loop} splits the training set itself: give train_dataloader as a config dict')
    return backbone


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (``obj`` itself without DDP)."""
    from mmengine.dist import broadcast_object_list, get_dist_info
    _, world = get_dist_info()
    if world < 2:
        return obj
    box = [obj]
    broadcast_object_list(box, src=0)
    return box[0]


def check_identical_on_ranks(tensors, what: str) -> None:
    """Under DDP, raise unless every rank holds exactly rank 0's ``tensors``; log the check.
    ``what`` names them in the messages, e.g. ``'architecture parameters ... after epoch 3'``."""
    import torch.distributed as dist
    from mmengine.dist import get_dist_info
    from mmengine.logging import print_log
    _, world = get_dist_info()
    tensors = list(tensors)
    if world < 2 or not tensors:
        return
    flat = torch.cat([t.detach().reshape(-1) for t in tensors])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    mismatch = torch.tensor([0.0 if torch.equal(ref, flat) else 1.0])
    dist.all_reduce(mismatch)
    if mismatch.item() > 0:
        raise RuntimeError(what.replace('...', 'differ between ranks'))
    print_log(what.replace('...', f'identical on {world} ranks'), logger='current')


def _has_accelerator() -> bool:
    return torch.cuda.is_available()


def prepare_config(config,
                   work_dir: Optional[str] = None,
                   cfg_options: Optional[dict] = None,
                   launcher: str = 'none',
                   amp: bool = False,
                   auto_scale_lr: bool = False,
                   resume: Optional[str] = None,
                   checkpoint: Optional[str] = None,
                   stage: str = 'train') -> Config:
    """Load a config and apply the command-line options the way mmdet's tools do.

    Besides the usual options this checks that the data is on disk (with a message that says how to
    generate the built-in data), adds :class:`~mmadapt.engine.hooks.ResultsHook` so every
    evaluation lands in ``{work_dir}/results.json``, and makes ``--launcher pytorch`` work on
    machines without a GPU (gloo backend, CPU-capable DDP wrapper).

    Args:
        config: path of the config file, or a loaded ``Config``.
        work_dir: overrides ``cfg.work_dir``; default ``./work_dirs/<config name>``.
        cfg_options: ``key=value`` overrides (already parsed by ``DictAction``).
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        amp: train with automatic mixed precision (needs a GPU).
        auto_scale_lr: enable the config's ``auto_scale_lr``.
        resume: ``'auto'`` (latest checkpoint in the work dir) or a checkpoint path.
        checkpoint: weights to evaluate (``stage='test'``).
        stage: ``'train'`` or ``'test'``: which data must exist.
    """
    if stage not in _STAGES:
        raise ValueError(f'stage must be one of {sorted(_STAGES)}, got {stage!r}')
    if isinstance(config, Config):
        cfg = config.copy()
        config = cfg.filename or 'config'
    else:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config file not found: {config}')
        cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        check_option_keys(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)

    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])

    if amp:
        if not _has_accelerator():
            raise RuntimeError('--amp needs a CUDA device; none is available on this machine')
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config')
        else:
            if optim_wrapper != 'OptimWrapper':
                raise ValueError(f'--amp works with OptimWrapper, the config has {optim_wrapper}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise KeyError('--auto-scale-lr needs auto_scale_lr=dict(base_batch_size=N) in the '
                           'config')
        cfg.auto_scale_lr.enable = True

    if resume is None and cfg.get('resume') is True and not cfg.get('load_from'):
        resume = 'auto'  # the config's own `resume = True`: mmengine would look for the latest checkpoint
    if resume == 'auto':
        # resolved here rather than by mmengine: only checkpoints inside the work dir are trusted, and
        # `last_checkpoint` holds a path relative to the work dir, which mmengine would read against
        # the current folder
        latest = latest_checkpoint(cfg.work_dir)
        if latest is None:
            # nothing to resume: a fresh run, which keeps the config's own load_from; resume stays off
            # so that runner.test() after training does not go looking for a checkpoint either
            cfg.resume = False
            print_log(f'--resume: no checkpoint in {cfg.work_dir}; starting from the beginning', logger='current')
        else:
            cfg.resume = True
            cfg.load_from = latest
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'--resume checkpoint not found: {resume}')
        check_checkpoint_file(resume, '--resume checkpoint')
        cfg.resume = True
        cfg.load_from = resume

    if stage == 'test':
        if checkpoint is not None:
            if not osp.isfile(checkpoint):
                raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
            cfg.load_from = checkpoint
        else:
            cfg.load_from = None

    check_data(cfg, stages=_STAGES[stage])
    use_atomic_checkpoints(cfg)

    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(str(h.get('type', '')).endswith('ResultsHook') for h in hooks):
        hooks.append(dict(type='mmadapt.ResultsHook'))
    cfg.custom_hooks = hooks

    if launcher != 'none' and not _has_accelerator():
        # CPU-only distributed runs: gloo instead of nccl, and a DDP wrapper without device_ids
        cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
        if cfg.get('model_wrapper_cfg') is None:
            cfg.model_wrapper_cfg = dict(
                type='mmadapt.DeviceAwareDDP',
                find_unused_parameters=cfg.get('find_unused_parameters', False))
    return cfg


def use_atomic_checkpoints(cfg: Config) -> None:
    """Use :class:`~mmadapt.engine.hooks.CheckpointHook` where the config uses mmengine's own
    ``CheckpointHook`` writing to local disk (atomic checkpoints, removal of old ones only after the
    new one is complete, a relative ``last_checkpoint``). Other checkpoint hooks are left alone."""
    if cfg.get('default_hooks') is None:
        cfg.default_hooks = dict()
    if 'checkpoint' not in cfg.default_hooks:  # mmengine's Runner would add its own
        cfg.default_hooks['checkpoint'] = dict(type='CheckpointHook', interval=1)
    ckpt = cfg.default_hooks['checkpoint']
    if not isinstance(ckpt, dict) or ckpt.get('type') not in ('CheckpointHook', 'mmengine.CheckpointHook'):
        return
    if ckpt.get('backend_args') or ckpt.get('file_client_args') or '://' in str(ckpt.get('out_dir') or ''):
        return
    ckpt['type'] = 'mmadapt.CheckpointHook'


def _init_cpu_process_group(cfg: Config) -> None:
    """mmengine's ``init_dist`` calls ``torch.cuda.set_device``, which fails without a GPU; on such
    machines the process group is set up here (mmengine then skips its own initialisation)."""
    import torch.distributed as dist
    if cfg.launcher == 'none' or _has_accelerator() or dist.is_initialized():
        return
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} without a GPU is not supported; use '
                           '--launcher pytorch (torchrun) for CPU runs')
    dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                            world_size=int(os.environ['WORLD_SIZE']))


def build_runner(cfg: Config) -> Runner:
    """Build the Runner a config asks for (``runner_type``, default mmengine's ``Runner``)."""
    _init_cpu_process_group(cfg)
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def shutdown_distributed(completed: bool = True) -> None:
    """End a distributed run cleanly; call it last, as the process is about to exit.

    Left to the interpreter's exit, the teardown of gloo's threads now and then aborts a process
    whose work is done ("terminate called without an active exception"), and the launcher then
    reports the whole run as failed. After a completed run every rank waits for the others, the
    process group is destroyed, logs and streams are flushed, and the process exits at once.
    Without a process group this does nothing.
    """
    import logging
    import sys

    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return
    if completed:
        dist.barrier()
    dist.destroy_process_group()
    if completed:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def run_tool(main) -> None:
    """Run a tool's ``main()`` and end a distributed run cleanly (:func:`shutdown_distributed`)."""
    try:
        main()
    except BaseException:
        shutdown_distributed(completed=False)
        raise
    shutdown_distributed()
