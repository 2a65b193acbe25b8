"""The app's push buttons made in one place: text, object name, tooltip, and where given a shortcut, a
slot, checkable."""
from __future__ import annotations

from PySide6 import QtGui, QtWidgets

__all__ = ["push_button"]


def push_button(text: str, name: str, tip: str, key: str | None = None, slot=None,
                checkable: bool = False) -> QtWidgets.QPushButton:
    """A button showing ``text`` named ``name`` with the tooltip ``tip``; ``key`` its shortcut (a
    :class:`QtGui.QKeySequence` text), ``slot`` called when it is clicked."""
    b = QtWidgets.QPushButton(text)
    b.setObjectName(name)
    b.setToolTip(tip)
    b.setCheckable(checkable)
    if key:
        b.setShortcut(QtGui.QKeySequence(key))
    if slot is not None:
        b.clicked.connect(slot)
    return b
