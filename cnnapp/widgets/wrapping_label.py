"""A word-wrapped label that is as tall as its text: :class:`WrappingLabel`."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["WrappingLabel"]


class WrappingLabel(QtWidgets.QLabel):
    """A word-wrapped label as tall as its text needs at the width it is given. (In a form inside a
    scroll area, a wrapped QLabel got the height of its text at a guessed width: at the narrower width
    it was given, its first and last lines were cut in half.)"""

    def __init__(self, text: str = "", parent=None):
        super().__init__(text, parent)
        self.setWordWrap(True)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._fit()

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)
        if ev.type() == QtCore.QEvent.FontChange:       # (zoomed: its lines grow at the same width)
            self._fit()

    def _fit(self) -> None:
        old = self.minimumHeight()
        if old:         # (Qt's height for a width is never below the least height: zoomed back to 100 %, a
            # caption kept the height of its 400 % lines)
            self.setMinimumHeight(0)
        need = self.heightForWidth(max(self.width(), 1)) if self.text() else 0
        self.setMinimumHeight(max(need, 0))
