"""One way to make a part of a view scroll: :func:`scroll_area`."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["scroll_area", "ShrinksToItsScroll"]


def scroll_area(widget: QtWidgets.QWidget, name: str, accessible: str, *, across: bool = False,
                down: bool = True, focus: bool = True, kind=QtWidgets.QScrollArea) -> QtWidgets.QScrollArea:
    """``widget`` in a frameless scroll area that sizes it to its viewport, named ``name`` (its
    object name) and ``accessible`` (for a screen reader); it scrolls ``across`` and ``down`` where
    asked (a column of controls down only; lines of code across only), and takes the keyboard's
    focus unless ``focus`` is False (Tab then goes straight to what it holds); ``kind``: its class."""
    area = kind()
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


class ShrinksToItsScroll:
    """A mixin for a widget that a resizable scroll area holds and whose own parts scroll (a text, a
    list): at a width it asks for its least height, not for every wrapped line at full size, so the
    area gives it the viewport's height and scrolls only where even the least does not fit. (A word-
    wrapped label made the lesson's panel ask for 699 px in a 583 px dock at 1024×640, its Answer and
    Next buttons below the fold.)"""

    def heightForWidth(self, width: int) -> int:
        layout = self.layout()
        return layout.totalMinimumHeightForWidth(width) if layout is not None else super().heightForWidth(width)


class WindowScroll(QtWidgets.QScrollArea):
    """The window's own scroll area: at least as large as its tabs ask (a dock beside takes only the
    rest), but never more than most of the screen (or of a 1024×640 one): a page zoomed past it scrolls."""

    def minimumSizeHint(self) -> QtCore.QSize:
        need = self.widget().minimumSizeHint() if self.widget() is not None else QtCore.QSize()
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        room = (screen.availableSize() * 0.8).expandedTo(QtCore.QSize(760, 480)) if screen is not None else need
        return need.boundedTo(room)
