"""Sizes that follow a widget's font: :func:`follow_font` calls a widget's fitting function now and
again whenever its font changes (the tab's zoom sets every widget's font, see :mod:`.zoom`), and
:func:`ems` / :func:`lines` turn a size said in characters or lines into pixels of that font.

A size set once in pixels (``setFixedWidth(140)``) holds text of one size only: at a larger zoom the
text is cut or crowded. A size from the font's metrics, fitted again when the font changes, grows
with it."""
from __future__ import annotations

from PySide6 import QtCore, QtWidgets

__all__ = ["follow_font", "ems", "ems_wide", "lines", "lines_high"]


def ems(widget: QtWidgets.QWidget, count: float) -> int:
    """``count`` average characters of ``widget``'s font, in pixels."""
    return int(round(count * widget.fontMetrics().averageCharWidth()))


def lines(widget: QtWidgets.QWidget, count: float) -> int:
    """``count`` lines of ``widget``'s font, in pixels."""
    return int(round(count * widget.fontMetrics().lineSpacing()))


class _FontWatch(QtCore.QObject):
    """Calls ``fit`` when the font of the widget it filters changes, and again once the widget has taken
    it (its size hints are of the old font until then)."""

    def __init__(self, widget: QtWidgets.QWidget, fit):
        super().__init__(widget)
        self._fit = fit
        widget.installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:
        if ev.type() == QtCore.QEvent.FontChange:
            self._fit()
            QtCore.QTimer.singleShot(0, self, self._fit)
        return False


def follow_font(widget: QtWidgets.QWidget, fit) -> None:
    """Call ``fit()`` now and each time ``widget``'s font changes."""
    _FontWatch(widget, fit)
    fit()


def ems_wide(widget: QtWidgets.QWidget, least: float | None = None, most: float | None = None) -> None:
    """``widget`` at least ``least`` (a button: and never narrower than its text and icon ask) and at
    most ``most`` average characters of its font wide."""
    def fit() -> None:
        if least is not None:       # (at 80 % "Previous" and its icon asked more than 12 characters)
            text = widget.sizeHint().width() if isinstance(widget, QtWidgets.QAbstractButton) else 0
            widget.setMinimumWidth(max(ems(widget, least), text))
        if most is not None:
            widget.setMaximumWidth(ems(widget, most))
    follow_font(widget, fit)


def lines_high(widget: QtWidgets.QWidget, least: float | None = None, fixed: float | None = None) -> None:
    """``widget`` at least ``least`` lines of its font high, or always ``fixed`` lines."""
    def fit() -> None:
        if fixed is not None:
            widget.setFixedHeight(lines(widget, fixed))
        elif least is not None:
            widget.setMinimumHeight(lines(widget, least))
    follow_font(widget, fit)
