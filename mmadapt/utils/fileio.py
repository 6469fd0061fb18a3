"""Writing files whole or not at all, with the permissions a user expects.

Every file mmadapt writes goes to a temporary file beside its target and is moved into place with
``os.replace`` only when complete, so a kill leaves either the old file or the new one. Python's
``tempfile`` creates owner-only files (0600) and folders (0700); a spec, a checkpoint or a data set
moved into place from there would be unreadable to the other users of a shared folder, so the
temporary files and folders get the modes ordinary ``open`` / ``os.makedirs`` give (0666 / 0777
less the umask) before they are moved.
"""
import os
import os.path as osp
import tempfile
from typing import Callable, Sequence


def default_mode(folder: bool = False) -> int:
    """The mode ``open`` (0666) or ``os.makedirs`` (0777) gives under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if folder else 0o666) & ~umask


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Write ``path`` whole or not at all: ``write(tmp_path)`` fills a temporary file beside it.

    Args:
        path: the target file; its folder is created if needed.
        write: called with the temporary file's path (e.g. ``lambda p: torch.save(obj, p)``).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all."""
    def write(tmp):
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
    atomic_write(path, write)


def make_temp_dir(parent: str, prefix: str) -> str:
    """A new temporary folder in ``parent`` with the mode ``os.makedirs`` would give it."""
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(tmp, default_mode(folder=True))
    return tmp


def read_json_object(path: str) -> dict:
    """The JSON object in ``path``; ``ValueError`` (with the reason, not the path) when the file is empty,
    truncated, not UTF-8 or holds something other than an object. Callers name the file and decide
    whether that is an error or a file to set aside."""
    import json
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except UnicodeDecodeError as e:
        raise ValueError(f'not UTF-8 text: {e}') from None
    if not isinstance(data, dict):
        raise ValueError(f'expected a JSON object, got {type(data).__name__}')
    return data


def is_inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or lies below it (symbolic links resolved)."""
    real = osp.realpath(folder)
    return osp.commonpath([osp.realpath(path), real]) == real


def relative_if_inside(path: str, folder: str) -> str:
    """``path`` relative to ``folder`` when it lies inside it (what a work dir stores, so that a copy of
    the folder refers to its own files), else absolute."""
    if is_inside(path, folder):
        return osp.relpath(osp.realpath(path), osp.realpath(folder))
    return osp.abspath(path)


def save_figure(fig, path: str, dpi: int = 110, **kwargs) -> str:
    """Write a matplotlib figure to ``path`` atomically (format from the extension) and close it."""
    import matplotlib.pyplot as plt
    fmt = osp.splitext(path)[1][1:].lower() or 'png'  # the temporary file's name does not tell it
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi, **kwargs))
    finally:
        plt.close(fig)
    return path


def move_folder_into_place(tmp: str, out: str, last: Sequence[str] = ()) -> None:
    """Make the complete folder ``tmp`` the folder ``out``: renamed when ``out`` does not exist, else
    its files replace ``out``'s of the same name one by one (each replace atomic; other files of
    ``out`` stay), the names in ``last`` (e.g. a report that vouches for the rest) after the others."""
    import shutil
    if not osp.exists(out):
        os.rename(tmp, out)
        return
    if not osp.isdir(out):
        raise NotADirectoryError(f'output {out} exists and is not a folder')
    for name in sorted(os.listdir(tmp), key=lambda n: n in last):
        os.replace(osp.join(tmp, name), osp.join(out, name))
    shutil.rmtree(tmp, ignore_errors=True)
