"""The one question the app asks before it throws trained weights away."""
from __future__ import annotations

from PySide6 import QtWidgets


def confirm_discard(parent, text: str, title: str = "Discard trained weights?") -> bool:
    """Ask ``text`` (Yes / Cancel, Cancel the default); True when the learner says Yes."""
    r = QtWidgets.QMessageBox.question(parent, title, text,
                                       QtWidgets.QMessageBox.Yes | QtWidgets.QMessageBox.Cancel,
                                       QtWidgets.QMessageBox.Cancel)
    return r == QtWidgets.QMessageBox.Yes
