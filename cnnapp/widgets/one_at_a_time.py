"""Widgets side by side where each has room, one at a time where they would not (a small screen, or a
lesson's panel beside them): a tab bar above then picks the one shown. Nothing is moved between
parents: the others are only hidden, so a plot keeps its curves and its zoom."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["OneAtATime"]


class OneAtATime(QtWidgets.QWidget):
    """``pages`` ``[(title, widget)]`` in a horizontal splitter (``row``, ``sizes`` its first widths) while
    each can be at least ``least`` pixels wide; else the tab bar (``bar``) and the chosen one alone."""

    def __init__(self, pages, least: int, sizes=None, parent=None):
        super().__init__(parent)
        self.least = least
        self.widgets = [w for _, w in pages]
        self.bar = QtWidgets.QTabBar()
        self.bar.setExpanding(False)
        self.bar.setDrawBase(False)
        for title, _ in pages:
            self.bar.addTab(title)
        self.row = QtWidgets.QSplitter(QtCore.Qt.Horizontal)
        for w in self.widgets:
            self.row.addWidget(w)
        if sizes:
            self.row.setSizes(list(sizes))
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.bar)
        lay.addWidget(self.row, 1)
        self.bar.hide()
        self.bar.currentChanged.connect(lambda _: self._show(self.one))

    @property
    def one(self) -> bool:
        """Whether one widget is shown at a time now."""
        return not self.bar.isHidden()

    def resizeEvent(self, ev) -> None:
        one = ev.size().width() < len(self.widgets) * self.least
        if one != self.one:
            self._show(one)
        super().resizeEvent(ev)

    def _show(self, one: bool) -> None:
        self.bar.setVisible(one)
        for k, w in enumerate(self.widgets):
            w.setVisible(not one or k == self.bar.currentIndex())
