"""Checkpoints that a kill cannot take away.

mmengine's ``CheckpointHook`` writes a checkpoint in place (a kill leaves it truncated) and, with
``max_keep_ckpts``, deletes the oldest checkpoint *before* writing the new one, so a run killed at the
wrong moment with ``max_keep_ckpts=1`` has nothing to resume from. Its ``last_checkpoint`` holds an
absolute path, so a copied work dir resumes from the original's file, and the best checkpoint's
absolute path in the message hub makes a copy delete the original's best checkpoint.

:class:`CheckpointHook` keeps mmengine's options and file names and changes the order and the writes:

1. the checkpoint goes to a temporary file beside its target and is renamed into place when complete
   (:class:`AtomicLocalBackend`, the file backend of every checkpoint the hook writes);
2. only then are checkpoints beyond ``max_keep_ckpts`` (and a superseded best checkpoint) removed;
3. ``last_checkpoint`` is written atomically, relative to the work dir.

``prepare_config`` (``tools/train.py``, the FNA++ pipeline) puts it in place of mmengine's hook when a
config uses mmengine's ``CheckpointHook`` on local disk; a config with another checkpoint hook or a
remote ``backend_args`` keeps what it asked for.
"""
import os
import os.path as osp
import re
from typing import List

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook as _MMEngineCheckpointHook

from mmadapt.registry import HOOKS
from mmadapt.utils.checkpoint import LAST_CHECKPOINT
from mmadapt.utils.fileio import atomic_write, atomic_write_text, relative_if_inside

ATOMIC_BACKEND = 'mmadapt_atomic_local'
# what atomic_write names the temporary file of a checkpoint: '.{name}.{random}.tmp'
_TEMPORARY = re.compile(r'^\..+\.pth\.[^.]+\.tmp$')


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend whose ``put`` writes whole files or nothing."""

    def put(self, obj: bytes, filepath) -> None:
        def write(tmp):
            with open(tmp, 'wb') as f:
                f.write(obj)
        atomic_write(str(filepath), write)


register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)


class _DeferredRemoval:
    """A file backend whose ``remove`` / ``rmtree`` are recorded, to run once the new file is safe."""

    def __init__(self, backend):
        self._backend = backend
        self.pending: List[str] = []

    def remove(self, path) -> None:
        self.pending.append(str(path))

    def rmtree(self, path) -> None:
        self.pending.append(str(path))

    def __getattr__(self, name):
        return getattr(self._backend, name)


@HOOKS.register_module()
class CheckpointHook(_MMEngineCheckpointHook):
    """mmengine's ``CheckpointHook`` with atomic checkpoints, removal after the new one is complete and
    a relative ``last_checkpoint`` (see the module docstring). Same arguments as mmengine's."""

    def __init__(self, *args, backend_args=None, **kwargs):
        if backend_args is None and kwargs.get('file_client_args') is None:
            backend_args = dict(backend=ATOMIC_BACKEND)
        super().__init__(*args, backend_args=backend_args, **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if is_main_process() and osp.isdir(str(self.out_dir)):
            # temporaries of a run killed while it saved (SIGKILL runs no clean-up)
            for name in os.listdir(str(self.out_dir)):
                if _TEMPORARY.match(name):
                    os.remove(osp.join(str(self.out_dir), name))
            # a run killed after its new checkpoint was complete but before it removed the outdated
            # one: finish that removal (only checkpoints older than every kept one)
            if self.max_keep_ckpts > 0 and self.keep_ckpt_ids:
                oldest = min(self.keep_ckpt_ids)
                pattern = re.compile('^' + re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)') + '$')
                for name in os.listdir(str(self.out_dir)):
                    m = pattern.match(name)
                    if m and int(m.group(1)) < oldest:
                        self._remove(osp.join(str(self.out_dir), name))
        # best checkpoints recorded by a run in another folder (this work dir is a copy): never touch
        # the original's files; the copy's own files of the same names are the best checkpoints
        if getattr(self, 'best_ckpt_path', None):
            self.best_ckpt_path = self._inside(self.best_ckpt_path)
        for key, path in getattr(self, 'best_ckpt_path_dict', {}).items():
            if path:
                self.best_ckpt_path_dict[key] = self._inside(path)

    def _inside(self, path: str) -> str:
        if osp.dirname(osp.abspath(path)) == osp.abspath(str(self.out_dir)):
            return path
        return osp.join(str(self.out_dir), osp.basename(path))

    def _remove(self, path: str) -> None:
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            self.file_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir, ckpt_filename, self.file_client_args, save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler, meta=meta, by_epoch=self.by_epoch,
            backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        # the new checkpoint is complete: now point resume at it, then drop what it supersedes
        self._write_last_checkpoint(runner)
        for old in outdated:
            if old != step:
                self._remove(self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old)))

    def _write_last_checkpoint(self, runner) -> None:
        atomic_write_text(osp.join(runner.work_dir, LAST_CHECKPOINT),
                          relative_if_inside(str(self.last_ckpt), runner.work_dir))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        backend = self.file_backend
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        keep = {osp.abspath(p) for p in [getattr(self, 'best_ckpt_path', None),
                                         *getattr(self, 'best_ckpt_path_dict', {}).values()] if p}
        for path in deferred.pending:
            if osp.abspath(path) not in keep:
                self._remove(path)
