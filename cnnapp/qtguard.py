"""Guard against a reference-count bug of PySide6 6.12.0 on Python < 3.12.

With PySide6-Essentials 6.12.0, every call Qt makes into a Python-wrapped object (each paint of
a widget or a pyqtgraph item, for instance) takes one reference away from ``None`` (and now and
then from ``True``/``False``) without having added it. ``None`` starts with a few thousand
references, so after a few seconds of live plots the interpreter aborts with
"Fatal Python error: none_dealloc". PySide6 6.11.3 does not do this; from Python 3.12 on these
objects are immortal and the bug is harmless.

Until the dependency is pinned away from 6.12.0, :func:`install` keeps the counts of these
three singletons far from zero: it tops them up at once and then every 250 ms on the GUI
thread. Nothing else is touched; on Python 3.12+ it does nothing.
"""
from __future__ import annotations

import ctypes
import sys

_FLOOR = 1_000_000
_TOP_UP = 50_000_000
_timer = None


def needed() -> bool:
    return sys.version_info < (3, 12)


def top_up() -> None:
    """Raise the reference counts of None, True and False when they run low."""
    for obj in (None, True, False):
        if sys.getrefcount(obj) < _FLOOR:
            # ob_refcnt is the first field of every object in CPython < 3.12.
            ctypes.c_ssize_t.from_address(id(obj)).value += _TOP_UP


def install(app) -> None:
    """Top up now and every 250 ms while ``app`` (the QApplication) runs. Idempotent."""
    global _timer
    if not needed():
        return
    top_up()
    if _timer is not None:
        return
    from PySide6 import QtCore
    _timer = QtCore.QTimer(app)
    _timer.setInterval(250)
    _timer.timeout.connect(top_up)
    _timer.start()
