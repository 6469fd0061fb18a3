"""Safe loading of mmengine checkpoints on torch >= 2.6.

Since torch 2.6, ``torch.load`` unpickles with ``weights_only=True`` unless told otherwise: only
tensors, containers and allow-listed types may appear in a checkpoint. mmengine 0.10.7 calls
``torch.load`` without the argument and writes objects that are not on torch's default list (the
message hub's ``HistoryBuffer``, numpy arrays and scalars in ``meta``), so resuming a Runner fails.

We do not switch the default back to unsafe loading. Instead :func:`register_safe_globals` adds
exactly the types that mmengine's checkpoints hold to torch's allow-list. A checkpoint whose pickle
refers to anything else (for example ``os.system`` in a ``__reduce__``) is still refused.

One entry needs care: ``HistoryBuffer.__getstate__`` stores its statistics methods
(``HistoryBuffer.min`` ...), which pickle writes as ``getattr(HistoryBuffer, 'min')``. Allowing the
builtin ``getattr`` would let a pickle fetch any attribute of any allowed object, so the name
``builtins.getattr`` is bound to :func:`history_buffer_getattr` instead, which resolves only the
statistics methods of ``HistoryBuffer`` and refuses everything else.
"""
import logging
import os
import os.path as osp
import re
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.logging import print_log

from .fileio import is_inside

_REGISTERED = False
# the statistics methods HistoryBuffer registers for itself (mmengine/logging/history_buffer.py)
_BUILTIN_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


def history_buffer_getattr(obj, name: str):
    """``getattr`` restricted to what mmengine checkpoints need: ``HistoryBuffer``'s statistics
    methods. Anything else raises ``pickle.UnpicklingError``."""
    import pickle

    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = _BUILTIN_STATISTICS | set(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and isinstance(name, str) and not name.startswith('_') and \
            name in allowed and callable(getattr(obj, name, None)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint refused: getattr({getattr(obj, "__name__", type(obj).__name__)}, {name!r}) '
        'is not allowed when loading with weights_only=True')


def mmengine_checkpoint_globals() -> List[object]:
    """The types that mmengine's ``Runner.save_checkpoint`` may write besides tensors.

    - ``HistoryBuffer``: the message hub's scalar logs (``checkpoint['message_hub']``);
    - ``getattr(HistoryBuffer, <statistics method>)`` through :func:`history_buffer_getattr`;
    - numpy arrays, dtypes and scalars: values in ``meta`` and in the message hub's runtime
      information (for example mmpose's ``dataset_meta`` holds arrays of keypoint sigmas, and
      logged values may be numpy scalars).
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = np.core.multiarray
    dtype_classes = sorted({type(np.dtype(t)) for t in np.sctypeDict.values()
                            if np.dtype(t).kind in 'biufcUSM m'}, key=lambda c: c.__name__)
    return [HistoryBuffer, multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype,
            (history_buffer_getattr, 'builtins.getattr'),
            (history_buffer_getattr, '__builtin__.getattr')] + dtype_classes


def register_safe_globals() -> None:
    """Allow-list the types of :func:`mmengine_checkpoint_globals` for ``torch.load``.

    Called when ``mmadapt`` is imported. Idempotent. Does nothing on torch < 2.4, which has no
    allow-list (and does not load with ``weights_only=True`` by default before 2.6).
    """
    global _REGISTERED
    if _REGISTERED:
        return
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:  # pragma: no cover - old torch
        return
    add_safe_globals(mmengine_checkpoint_globals())
    _REGISTERED = True


# -- reading checkpoint files ---------------------------------------------------------------------

class CheckpointError(ValueError):
    """A checkpoint file that cannot be used; the message names the file and what is wrong."""


_PICKLE_PROTOCOL_BYTE = 0x80  # torch's legacy (non-zip) format is a pickle stream


def check_checkpoint_file(path: str, what: str = 'checkpoint') -> None:
    """Cheap structural check of a torch checkpoint file, without reading its tensors.

    Catches a missing, empty or truncated file (a kill while it was written by a tool that does not
    write atomically): torch's zip format keeps its directory at the end of the file, so a truncated
    file is not a readable zip archive. Raises :class:`CheckpointError` naming the file.
    """
    import zipfile
    if not osp.isfile(path):
        raise CheckpointError(f'{what} {path}: no such file')
    size = osp.getsize(path)
    if size == 0:
        raise CheckpointError(f'{what} {path}: the file is empty (a run killed while writing it?)')
    with open(path, 'rb') as f:
        head = f.read(2)
    if head == b'PK':
        try:
            with zipfile.ZipFile(path) as z:
                z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise CheckpointError(f'{what} {path}: truncated or corrupt ({size} bytes; {e}); '
                                  'a run killed while writing it leaves such a file') from None
    elif head[:1] != bytes([_PICKLE_PROTOCOL_BYTE]):
        raise CheckpointError(f'{what} {path}: not a torch checkpoint (it starts with {head!r}, neither a '
                              'zip archive nor a pickle)')


def load_checkpoint_file(path: str, what: str = 'checkpoint'):
    """``torch.load(path, map_location='cpu', weights_only=True)`` with errors that name the file.

    Code-running pickles stay refused (see :func:`register_safe_globals`); a refused, truncated or
    otherwise unreadable file raises :class:`CheckpointError` saying which file and why.
    """
    import pickle
    register_safe_globals()
    check_checkpoint_file(path, what)
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f'{what} {path}: refused or unreadable pickle: {e}') from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f'{what} {path}: cannot be read: {e}') from None


def non_finite_keys(state: Dict[str, torch.Tensor]) -> List[str]:
    """Names of the floating-point tensors of ``state`` that hold NaN or Inf."""
    return [k for k, v in state.items()
            if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(torch.isfinite(v).all())]


def check_finite(state: Dict[str, torch.Tensor], what: str) -> None:
    """Refuse weights with NaN or Inf: a network built from them outputs NaN, silently."""
    bad = non_finite_keys(state)
    if bad:
        raise CheckpointError(f'{what}: {len(bad)} of {len(state)} tensors hold NaN or Inf values (first: '
                              f'{", ".join(bad[:3])}); a network initialised from them computes NaN')


# -- the latest checkpoint of a work dir ------------------------------------------------------------

LAST_CHECKPOINT = 'last_checkpoint'
_STEP_CHECKPOINT = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def _newest_step_checkpoint(work_dir: str) -> Optional[str]:
    found = []
    for name in os.listdir(work_dir):
        m = _STEP_CHECKPOINT.match(name)
        if m and osp.isfile(osp.join(work_dir, name)):
            found.append((m.group(1) == 'iter', int(m.group(2)), name))
    return osp.join(work_dir, max(found)[2]) if found else None


def latest_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint a run in ``work_dir`` resumes from, or None when it has none.

    ``last_checkpoint`` names it, relative to the work dir (written so by
    :class:`mmadapt.engine.hooks.CheckpointHook`) or, as mmengine writes it, absolute. Resume trusts
    only checkpoints inside the work dir: an absolute path elsewhere means the work dir was copied or
    moved, and the copy's own file of the same name is used (never the original's, which may have
    moved on). An empty ``last_checkpoint`` (killed while written) falls back to the newest
    ``epoch_N.pth`` / ``iter_N.pth``. The file found is checked (:func:`check_checkpoint_file`).

    Raises:
        CheckpointError: ``last_checkpoint`` names a checkpoint that is neither in the work dir nor
            copied with it, or the checkpoint is truncated or corrupt.
    """
    work_dir = osp.abspath(work_dir)
    marker = osp.join(work_dir, LAST_CHECKPOINT)
    if not osp.isfile(marker):
        return None
    with open(marker, encoding='utf-8') as f:
        named = f.read().strip()
    if not named:
        path = _newest_step_checkpoint(work_dir)
        print_log(f'{marker} is empty (a run killed while writing it?); resuming from the newest checkpoint '
                  f'of the work dir: {path}', logger='current', level=logging.WARNING)
        if path is None:
            return None
    elif not osp.isabs(named):
        path = osp.join(work_dir, named)
    elif is_inside(named, work_dir):
        path = named
    else:
        path = osp.join(work_dir, osp.basename(named))
        if not osp.isfile(path):
            raise CheckpointError(
                f'{marker} names {named}, which is outside this work dir (was the work dir copied or moved?), '
                f'and the work dir has no {osp.basename(named)} of its own; resume only trusts checkpoints '
                'inside the work dir. Resume from a file explicitly (--resume PATH) or start afresh.')
        print_log(f'{marker} names {named}, outside this work dir (copied or moved?): resuming from this work '
                  f"dir's own {path}", logger='current', level=logging.WARNING)
    if not osp.isfile(path):
        raise CheckpointError(f'{marker} names {path}, which does not exist')
    check_checkpoint_file(path)
    return path


def check_checkpoint_matches(model: torch.nn.Module, path: str) -> Dict[str, int]:
    """Refuse a checkpoint that does not hold ``model``'s weights before it is loaded.

    mmengine loads ``load_from`` non-strictly: a checkpoint of another architecture loads nothing,
    with a warning in the log, and the model is evaluated at its random initialisation. Here every
    parameter and buffer of ``model`` must be in the checkpoint with its shape. Keys of the checkpoint
    that the model lacks are counted and allowed (e.g. an EMA copy).

    Returns:
        dict with ``matched`` and ``unexpected`` key counts.

    Raises:
        CheckpointError: naming the file, how many of the model's tensors are missing or of another
            shape, and the first few of each.
    """
    ckpt = load_checkpoint_file(path)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f'checkpoint {path}: holds no state dict of tensors')
    state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    wrong = [f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}' for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or wrong:
        parts = []
        if missing:
            parts.append(f'{len(missing)} of the model\'s {len(expected)} tensors are missing (first: '
                         f'{", ".join(missing[:3])})')
        if wrong:
            parts.append(f'{len(wrong)} have another shape (checkpoint vs model: {"; ".join(wrong[:3])})')
        raise CheckpointError(f'checkpoint {path} does not fit this config\'s model: {"; ".join(parts)}. '
                              'Is it a checkpoint of another architecture or config?')
    return dict(matched=len(expected), unexpected=len([k for k in state if k not in expected]))
