"""A row of controls in two halves: side by side where the room allows, the second under the first where
it does not (a small screen, or a lesson's panel beside the maps), so the row never makes the window wider."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["WrapRow"]


def _widget(part) -> QtWidgets.QWidget:
    if isinstance(part, QtWidgets.QWidget):
        return part
    w = QtWidgets.QWidget()
    part.setContentsMargins(0, 0, 0, 0)
    w.setLayout(part)
    return w


class WrapRow(QtWidgets.QWidget):
    """``first`` and ``second`` (widgets or layouts), in one line when both fit at their smallest."""

    def __init__(self, first, second, parent=None):
        super().__init__(parent)
        self.halves = (_widget(first), _widget(second))
        self._box = QtWidgets.QBoxLayout(QtWidgets.QBoxLayout.LeftToRight, self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self._box.setSizeConstraint(QtWidgets.QLayout.SetNoConstraint)
        self._box.addWidget(self.halves[0])
        self._box.addWidget(self.halves[1], 1)

    @property
    def wrapped(self) -> bool:
        return self._box.direction() == QtWidgets.QBoxLayout.TopToBottom

    def _needed(self) -> int:
        return sum(h.minimumSizeHint().width() for h in self.halves) + self._box.spacing()

    def minimumSizeHint(self) -> QtCore.QSize:
        a, b = (h.minimumSizeHint() for h in self.halves)
        height = a.height() + b.height() + self._box.spacing() if self.wrapped else max(a.height(), b.height())
        return QtCore.QSize(max(a.width(), b.width()), height)

    def sizeHint(self) -> QtCore.QSize:
        a, b = (h.sizeHint() for h in self.halves)
        if self.wrapped:
            return QtCore.QSize(max(a.width(), b.width()), a.height() + b.height() + self._box.spacing())
        return QtCore.QSize(a.width() + b.width() + self._box.spacing(), max(a.height(), b.height()))

    def resizeEvent(self, ev) -> None:
        self._rewrap(ev.size().width())
        super().resizeEvent(ev)

    def event(self, ev) -> bool:
        # a half's controls shown, hidden or renamed (the Backprop tab's tools at each step) change what
        # one line needs at the same width
        if ev.type() == QtCore.QEvent.LayoutRequest:
            self._rewrap(self.width())
        return super().event(ev)

    def _rewrap(self, width: int) -> None:
        wrap = width < self._needed()
        if wrap != self.wrapped:
            self._box.setDirection(QtWidgets.QBoxLayout.TopToBottom if wrap else QtWidgets.QBoxLayout.LeftToRight)
            self.updateGeometry()
