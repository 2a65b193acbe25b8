"""Widgets side by side where each has room, one at a time where they would not (a small screen, or a
lesson's panel beside them): a tab bar above then picks the one shown. Nothing is moved between
parents: the others are only hidden, so a plot keeps its curves and its zoom."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from .plot_base import Plot

__all__ = ["OneAtATime"]


class OneAtATime(QtWidgets.QWidget):
    """``pages`` ``[(title, widget)]`` in a horizontal splitter (``row``, ``sizes`` its first widths) while
    each can be at least ``least`` pixels wide, and as wide as its text asks (a plot's in a large font:
    :meth:`~cnnapp.widgets.plot_base.Plot.least_width`, given it where the splitter gave it less); else the
    tab bar (``bar``) and the chosen one alone."""

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
            if isinstance(w, Plot):
                w.laidOut.connect(self._fit_later)      # (another font: another width asked for)
        if sizes:
            self.row.setSizes(list(sizes))
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.bar)
        lay.addWidget(self.row, 1)
        self.bar.hide()
        self.bar.currentChanged.connect(lambda _: self._show(self.one))
        self._fit_due = False

    @property
    def one(self) -> bool:
        """Whether one widget is shown at a time now."""
        return not self.bar.isHidden()

    def minimumSizeHint(self) -> QtCore.QSize:
        """As narrow as the widest one alone (side by side they need more: then it shows one at a time)."""
        hint = super().minimumSizeHint()
        alone = max([_least_width(w) for w in self.widgets] + [self.bar.minimumSizeHint().width()])
        return QtCore.QSize(alone, hint.height())

    def resizeEvent(self, ev) -> None:
        self._fit(ev.size().width())
        super().resizeEvent(ev)

    def _fit_later(self) -> None:
        if not self._fit_due:
            self._fit_due = True
            QtCore.QTimer.singleShot(0, self, lambda: self._fit(self.width()))

    def _fit(self, width: int) -> None:
        """Side by side where they fit in ``width``, each as wide as it needs; else one at a time."""
        self._fit_due = False
        needs = [_least_width(w) for w in self.widgets]
        one = width < sum(max(self.least, n) for n in needs) + self.row.handleWidth() * (len(needs) - 1)
        if one != self.one:
            self._show(one)
        if not one:
            self._widen(needs)

    def _widen(self, needs: list) -> None:
        """Give each widget side by side the width its text ``needs`` (the rest shared as the splitter had it)."""
        sizes = self.row.sizes()
        if all(s >= n for s, n in zip(sizes, needs)):
            return
        extra = max(0, sum(sizes) - sum(needs))
        surplus = [max(0, s - n) for s, n in zip(sizes, needs)] if any(s > n for s, n in zip(sizes, needs)) \
            else [1] * len(needs)
        self.row.setSizes([n + extra * u // sum(surplus) for n, u in zip(needs, surplus)])

    def _show(self, one: bool) -> None:
        self.bar.setVisible(one)
        for k, w in enumerate(self.widgets):
            w.setVisible(not one or k == self.bar.currentIndex())


def _least_width(w: QtWidgets.QWidget) -> int:
    """How narrow ``w`` can be: a plot as its text asks, any other widget as its minimum size."""
    return w.least_width() if isinstance(w, Plot) else w.minimumSizeHint().width()
