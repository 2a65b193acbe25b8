"""A word-wrapped label that is as tall as its text: :class:`WrappingLabel`."""
from __future__ import annotations

from PySide6 import QtWidgets

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

    def _fit(self) -> None:
        need = self.heightForWidth(max(self.width(), 1)) if self.text() else 0
        if need >= 0 and need != self.minimumHeight():
            self.setMinimumHeight(need)
