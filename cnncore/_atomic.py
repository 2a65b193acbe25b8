"""Write a user's file atomically: a temporary file in the same folder, then ``os.replace``.

Either the old file stays as it was or the new one is complete; a crash, a
full disk or an exception in the middle never leaves a half-written file.
"""
from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, IO

# Read once: os.umask can only be read by setting it, which would race with
# other threads creating files.
_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_savez", "check_target",
           "NotARegularFile", "STALE_SECONDS"]

#: A temporary file of ours untouched for this long belongs to a save that was killed.
STALE_SECONDS = 600


class NotARegularFile(OSError):
    """The target exists and is a device, FIFO, socket or folder: never replaced."""


def check_target(path) -> None:
    """Raise :class:`NotARegularFile` when ``path`` exists and is not a regular file (or a
    link to one): ``os.replace`` would put a regular file in place of a device node
    such as ``/dev/full``, a FIFO or a socket."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe (FIFO)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        raise NotARegularFile(f"{path}: exists and is {kind}; only a regular file is ever replaced")


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Delete our own temporary files for ``name`` (``.<name>.XXXXXXXX.tmp``, as mkstemp names
    them) left by a save that was killed, once untouched for :data:`STALE_SECONDS`."""
    pattern = re.compile(re.escape(f".{name}.") + r"[a-z0-9_]{8}\.tmp")
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > STALE_SECONDS:
                os.unlink(entry.path)
        except OSError:
            pass


def atomic_write(path, write_fn: Callable[[IO], None], mode: str = "wb", encoding: str | None = None) -> Path:
    """Call ``write_fn(f)`` on a temporary file beside ``path``, then move it into place.

    ``mode`` is ``"wb"`` (default) or ``"w"`` (then ``encoding`` defaults to UTF-8).
    If ``write_fn`` raises, the temporary file is removed and ``path`` is untouched.
    Raises :class:`NotARegularFile` (before writing anything) when ``path`` is a device,
    FIFO, socket or folder. Temporary files of earlier saves of ``path`` that were killed
    half-way are removed once stale. Returns ``path`` as a :class:`pathlib.Path`.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', not {mode!r}")
    path = Path(path)
    check_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    _remove_stale_temps(folder, path.name)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        kwargs = {"encoding": encoding or "utf-8", "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        try:
            # mkstemp makes the file private (0600); give it the usual permissions.
            os.chmod(tmp, 0o666 & ~_UMASK)
        except OSError:
            pass
        check_target(path)          # again: something may have appeared there meanwhile
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda f: f.write(text), mode="w", encoding=encoding)


def atomic_savez(path, arrays: dict, compressed: bool = False) -> Path:
    """``np.savez`` (or ``savez_compressed``) of ``arrays`` to ``path``, atomically.

    The name is used exactly as given (NumPy would add ``.npz`` to a bare name).
    """
    import numpy as np

    save = np.savez_compressed if compressed else np.savez
    return atomic_write(path, lambda f: save(f, **arrays))
