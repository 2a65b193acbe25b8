"""One way to make a part of a view scroll: :func:`scroll_area`."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["scroll_area"]


def scroll_area(widget: QtWidgets.QWidget, name: str, accessible: str, *, across: bool = False,
                down: bool = True, focus: bool = True) -> QtWidgets.QScrollArea:
    """``widget`` in a frameless scroll area that sizes it to its viewport, named ``name`` (its
    object name) and ``accessible`` (for a screen reader); it scrolls ``across`` and ``down`` where
    asked (a column of controls down only; lines of code across only), and takes the keyboard's
    focus unless ``focus`` is False (Tab then goes straight to what it holds)."""
    area = QtWidgets.QScrollArea()
    area.setObjectName(name)
    area.setAccessibleName(accessible)
    area.setWidgetResizable(True)
    area.setFrameShape(QtWidgets.QFrame.NoFrame)
    if not across:
        area.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
    if not down:
        area.setVerticalScrollBarPolicy(QtCore.Qt.ScrollBarAlwaysOff)
    if not focus:
        area.setFocusPolicy(QtCore.Qt.NoFocus)
    area.setWidget(widget)
    return area
