"""A one-line label whose height never changes: cut with "…" where its room ends (the whole text in
its tooltip), and asking for room for the longest text it is meant to show, so a row that wraps
(:class:`~cnnapp.widgets.wrap_row.WrapRow`) decides by the window's width, not by the text of the
moment. A word-wrapped label in its place grew from one line to three as the text changed, and the
widgets below it jumped."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["ElidedLabel"]


class ElidedLabel(QtWidgets.QLabel):
    """``ElidedLabel(text, longest)``: one line; ``longest`` is the widest text it will show
    (its minimum width); :meth:`text` is the whole text, whatever is shown."""

    def __init__(self, text: str = "", longest: str = "", parent=None):
        super().__init__(parent)
        self._full, self._longest, self._tip = "", str(longest), ""
        self.setSizePolicy(QtWidgets.QSizePolicy.Preferred, QtWidgets.QSizePolicy.Fixed)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = str(text)
        self._elide()

    def text(self) -> str:
        return self._full

    def setToolTip(self, tip: str) -> None:
        self._tip = str(tip)
        self._elide()

    def minimumSizeHint(self) -> QtCore.QSize:
        hint = super().minimumSizeHint()
        return QtCore.QSize(self.fontMetrics().horizontalAdvance(self._longest) + 4, hint.height())

    def sizeHint(self) -> QtCore.QSize:
        hint = super().sizeHint()
        return QtCore.QSize(max(self.minimumSizeHint().width(),
                                self.fontMetrics().horizontalAdvance(self._full) + 4), hint.height())

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, QtCore.Qt.ElideRight, max(self.width() - 4, 1))
        super().setText(shown)
        super().setToolTip(self._tip if shown == self._full else "\n".join(t for t in (self._full, self._tip) if t))
