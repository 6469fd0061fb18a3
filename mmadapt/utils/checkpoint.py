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
from typing import List

import numpy as np
import torch

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
