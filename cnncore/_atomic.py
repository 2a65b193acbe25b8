"""Write a user's file atomically: a temporary file in the same folder, then ``os.replace``.

Either the old file stays as it was or the new one is complete; a crash, a
full disk or an exception in the middle never leaves a half-written file.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, IO

# Read once: os.umask can only be read by setting it, which would race with
# other threads creating files.
_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_savez"]


def atomic_write(path, write_fn: Callable[[IO], None], mode: str = "wb", encoding: str | None = None) -> Path:
    """Call ``write_fn(f)`` on a temporary file beside ``path``, then move it into place.

    ``mode`` is ``"wb"`` (default) or ``"w"`` (then ``encoding`` defaults to UTF-8).
    If ``write_fn`` raises, the temporary file is removed and ``path`` is untouched.
    Returns ``path`` as a :class:`pathlib.Path`.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', not {mode!r}")
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
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
