"""Work around a PySide6 refcount bug that aborts the interpreter on Python 3.11.

Measured with PySide6 6.12.0 (abi3 wheel) on CPython 3.11 in this project's venv:

* every Python-side ``Signal.emit(...)`` drops one reference to ``True``;
* every call of a C++ method returning ``void`` (``setText``, ``click``,
  ``processEvents``, ``QSettings.setValue`` …) drops one reference to ``None``.

On Python 3.12+ these singletons are immortal, so nothing happens there. On 3.11
their counts (a few thousand) reach zero after a few seconds of real use and the
process aborts with "none_dealloc: deallocating None" or "bool_dealloc".

:func:`install` probes for the bug and, only when present, gives ``None``,
``True`` and ``False`` a very large reference count, which is what 3.12 does
to make them immortal. No memory is held and nothing runs afterwards.
"""
from __future__ import annotations

import ctypes
import sys

__all__ = ["install", "has_bug"]

_installed = False
_BOOST = 1 << 40          # ~1e12 lost references before trouble: months of continuous use


def has_bug() -> bool:
    """True when plain PySide6 calls lose references to ``None`` or ``True``."""
    if sys.version_info >= (3, 12):
        return False
    from PySide6 import QtCore

    class _Probe(QtCore.QObject):
        sig = QtCore.Signal()

    p = _Probe()
    n0, t0 = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(20):
        p.setObjectName("probe")
        p.sig.emit()
    lost_none = n0 - sys.getrefcount(None)
    lost_true = t0 - sys.getrefcount(True)
    del p
    return lost_none >= 15 or lost_true >= 15


def install() -> bool:
    """Make ``None``/``True``/``False`` effectively immortal when this PySide6 needs it."""
    global _installed
    if _installed:
        return True
    if not has_bug():
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _installed = True
    return True
