"""The boxed, monospaced label every view uses to show an equation."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

_STYLE = ("QLabel {{ background: #f5f7fb; border: 1px solid #d8dde8; border-radius: 4px; "
          "padding: {pad}px; font-family: 'DejaVu Sans Mono', monospace; }}")


def equation_label(object_name: str, padding: int = 8) -> QtWidgets.QLabel:
    """An empty, word-wrapped, selectable equation box named ``object_name``."""
    label = QtWidgets.QLabel("")
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(QtCore.Qt.TextSelectableByMouse)
    label.setStyleSheet(_STYLE.format(pad=padding))
    return label
